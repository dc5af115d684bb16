import Crypto
import FHIRModels
import Foundation

/// The public side of one of the gateway's own EC signing keys: its JWKS and compact JWS signing.
enum ECPublicKeySet {
    /// A one-key JWKS for the uncompressed point `x963` (without its 0x04 prefix), `use: sig`.
    static func jwks(point: [UInt8], curve: String, algorithm: String, kid: String) -> JSON {
        let half = point.count / 2
        var key = JSONObject()
        key.append("kty", "EC")
        key.append("crv", curve)
        key.append("x", Base64URL.encode(point[0..<half]))
        key.append("y", Base64URL.encode(point[half...]))
        key.append("kid", kid)
        key.append("alg", algorithm)
        key.append("use", "sig")
        return .object(["keys": .array([.object(key)])])
    }

    /// `claims` as a compact JWS (`typ: JWT`), its signature's raw `r || s` made by `sign`.
    static func compactJWS(claims: JSONObject, algorithm: String, kid: String, sign: (Data) throws -> Data) rethrows -> String {
        let header = JSON.object(["alg": .string(algorithm), "typ": .string("JWT"), "kid": .string(kid)])
        let signingInput = Base64URL.encode(header.serialized) + "." + Base64URL.encode(JSON.object(claims).serialized)
        return signingInput + "." + Base64URL.encode(try sign(Data(signingInput.utf8)))
    }
}
