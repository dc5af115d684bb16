import Crypto
import CryptoExtras
import FHIRModels
import Foundation

/// Real signing keys for tests, generated once per run, and a JWS signer that can also
/// forge the malformed tokens the gateway must refuse.
enum TestKeys {
    static let acmeRSA = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let acmeEC = P256.Signing.PrivateKey()
    static let globexEC = P256.Signing.PrivateKey()
    /// A key nobody trusts.
    static let strangerEC = P256.Signing.PrivateKey()

    static func base64URL(_ data: some Sequence<UInt8>) -> String {
        Data(data).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func jwk(ec key: P256.Signing.PrivateKey, kid: String) -> JSON {
        let point = Array(key.publicKey.x963Representation.dropFirst())
        return .object(["kty": .string("EC"), "crv": .string("P-256"), "x": .string(base64URL(point[0..<32])),
                        "y": .string(base64URL(point[32..<64])), "kid": .string(kid), "alg": .string("ES256"), "use": .string("sig")])
    }

    static func jwk(rsa key: _RSA.Signing.PrivateKey, kid: String) -> JSON {
        let primitives = try! key.publicKey.getKeyPrimitives()
        return .object(["kty": .string("RSA"), "n": .string(base64URL(primitives.modulus)), "e": .string(base64URL(primitives.publicExponent)),
                        "kid": .string(kid), "alg": .string("RS256"), "use": .string("sig")])
    }

    enum Signer: Sendable {
        case rs256(_RSA.Signing.PrivateKey)
        case es256(P256.Signing.PrivateKey)
        /// HMAC with arbitrary key bytes (the "HS256 with the public key" attack).
        case hs256([UInt8])
        /// No signature at all (`alg: none`).
        case none
    }

    static func sign(header: JSON, claims: JSON, with signer: Signer) -> String {
        let input = base64URL(header.serialized) + "." + base64URL(claims.serialized)
        let data = Data(input.utf8)
        switch signer {
        case .rs256(let key):
            return input + "." + base64URL(try! key.signature(for: data, padding: .insecurePKCS1v1_5).rawRepresentation)
        case .es256(let key):
            return input + "." + base64URL(try! key.signature(for: data).rawRepresentation)
        case .hs256(let secret):
            return input + "." + base64URL(HMAC<SHA256>.authenticationCode(for: data, using: SymmetricKey(data: secret)))
        case .none:
            return input + "."
        }
    }
}
