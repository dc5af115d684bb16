import Crypto
import CryptoExtras
import FHIRModels
import Foundation

/// Keys of SMART Backend Services clients (RS384 and ES384, as SMART requires), generated once per
/// run, and the signed client assertions the tests send to `/<tenant>/auth/token`.
enum BackendClientKeys {
    static let rsa = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let ec = P384.Signing.PrivateKey()
    static let otherTenantEC = P384.Signing.PrivateKey()
    static let urlEC = P384.Signing.PrivateKey()
    /// A key nobody registered.
    static let strangerEC = P384.Signing.PrivateKey()

    enum Signer: Sendable {
        case rs384(_RSA.Signing.PrivateKey)
        case rs256(_RSA.Signing.PrivateKey)
        case es384(P384.Signing.PrivateKey)
    }

    static func jwk(rsa key: _RSA.Signing.PrivateKey, kid: String) -> JSON {
        guard case .object(var object) = TestKeys.jwk(rsa: key, kid: kid) else { return .null }
        object["alg"] = .string("RS384")
        return .object(object)
    }

    static func jwk(ec key: P384.Signing.PrivateKey, kid: String) -> JSON {
        let point = Array(key.publicKey.x963Representation.dropFirst())
        return .object(["kty": .string("EC"), "crv": .string("P-384"), "x": .string(TestKeys.base64URL(point[0..<48])),
                        "y": .string(TestKeys.base64URL(point[48..<96])), "kid": .string(kid), "alg": .string("ES384")])
    }

    static func sign(header: JSON, claims: JSON, with signer: Signer) -> String {
        let input = TestKeys.base64URL(header.serialized) + "." + TestKeys.base64URL(claims.serialized)
        let data = Data(input.utf8)
        let signature: Data
        switch signer {
        case .rs384(let key): signature = try! key.signature(for: SHA384.hash(data: data), padding: .insecurePKCS1v1_5).rawRepresentation
        case .rs256(let key): signature = try! key.signature(for: SHA256.hash(data: data), padding: .insecurePKCS1v1_5).rawRepresentation
        case .es384(let key): signature = try! key.signature(for: data).rawRepresentation
        }
        return input + "." + TestKeys.base64URL(signature)
    }

    /// A client assertion for `client` at `tokenURL`: valid unless `overrides` change it (nil removes a claim).
    static func assertion(client: String, tokenURL: String, kid: String?, alg: String, signer: Signer,
                          claims overrides: [String: JSON?] = [:], header extra: [String: JSON] = [:]) -> String {
        var claims = JSONObject()
        let now = Int(Date().timeIntervalSince1970)
        claims.append("iss", client)
        claims.append("sub", client)
        claims.append("aud", tokenURL)
        claims.append("exp", .int(now + 240))
        claims.append("iat", .int(now))
        claims.append("jti", UUID().uuidString)
        for (key, value) in overrides { claims[key] = value }
        guard case .object(var header) = GatewayFixture.header(alg, kid) else { return "" }
        for (key, value) in extra { header[key] = value }
        return sign(header: .object(header), claims: .object(claims), with: signer)
    }

    /// The form body of a token request.
    static func form(assertion: String, scope: String? = "system/Patient.rs", grantType: String = "client_credentials",
                     assertionType: String = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") -> String {
        var pairs = [("grant_type", grantType), ("client_assertion_type", assertionType), ("client_assertion", assertion)]
        if let scope { pairs.append(("scope", scope)) }
        return pairs.map { "\($0.0)=\(encode($0.1))" }.joined(separator: "&")
    }

    static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")) ?? text
    }

    /// The claims of a compact JWS, unverified (to inspect issued tokens).
    static func claims(_ token: String) -> [String: Any] {
        let parts = token.split(separator: ".")
        guard parts.count == 3 else { return [:] }
        var text = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        guard let data = Data(base64Encoded: text) else { return [:] }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    }

    static func header(_ token: String) -> [String: Any] {
        guard let first = token.split(separator: ".").first else { return [:] }
        return claims("x." + first + ".x")
    }
}
