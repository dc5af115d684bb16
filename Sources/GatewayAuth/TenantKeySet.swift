import FHIRModels
import JWTKit

/// The verification keys of one issuer, each pinned to one algorithm.
public struct TenantKeySet: Sendable {
    struct Key: Sendable {
        let kid: String
        let algorithm: String
        /// A collection holding this key alone, so JWTKit can never fall back to another key.
        let collection: JWTKeyCollection
    }

    let keys: [String: Key]
    /// Key ids that more than one key of the set carries; none of those keys is used.
    public let ambiguousKeyIDs: Set<String>

    public var keyIDs: [String] { keys.keys.sorted() }

    static let empty = TenantKeySet(keys: [:])

    init(keys: [String: Key], ambiguousKeyIDs: Set<String> = []) {
        self.keys = keys
        self.ambiguousKeyIDs = ambiguousKeyIDs
    }

    /// Algorithms accepted from a JWKS; HMAC and `none` are never accepted.
    static let asymmetricAlgorithms: Set<String> = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]

    public struct InvalidKeySet: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Reads a JWKS document. Every key needs a `kid`; symmetric keys are refused.
    public static func parse(jwks bytes: [UInt8]) async throws(InvalidKeySet) -> TenantKeySet {
        let document: JSON
        do { document = try JSONParser.parse(bytes) } catch { throw InvalidKeySet(description: "the key set is not valid JSON") }
        guard let entries = document["keys"]?.arrayValue else { throw InvalidKeySet(description: "the key set has no 'keys' array") }
        var keys: [String: Key] = [:]
        /// A `kid` that names two signing keys names none: a token must never be verified by a guess.
        var ambiguous: Set<String> = []
        for (index, entry) in entries.enumerated() {
            guard case .object(var object) = entry else { throw InvalidKeySet(description: "keys[\(index)] is not an object") }
            guard let kid = object["kid"]?.stringValue, !kid.isEmpty else { throw InvalidKeySet(description: "keys[\(index)] has no kid") }
            if let use = object["use"]?.stringValue, use != "sig" { continue }
            let keyType = object["kty"]?.stringValue
            let derived: String
            switch keyType {
            case "RSA": derived = "RS256"
            case "EC":
                switch object["crv"]?.stringValue {
                case "P-256": derived = "ES256"
                case "P-384": derived = "ES384"
                case "P-521": derived = "ES512"
                default: throw InvalidKeySet(description: "keys[\(index)] has an unsupported curve")
                }
            default: throw InvalidKeySet(description: "keys[\(index)] has unsupported kty '\(keyType ?? "")'; only RSA and EC keys are accepted")
            }
            let algorithm = object["alg"]?.stringValue ?? derived
            guard asymmetricAlgorithms.contains(algorithm),
                  keyType == "RSA" ? (algorithm.hasPrefix("RS") || algorithm.hasPrefix("PS")) : algorithm == derived else {
                throw InvalidKeySet(description: "keys[\(index)] declares alg '\(algorithm)' that does not fit its key type")
            }
            object["alg"] = .string(algorithm)
            for privateMember in ["d", "p", "q", "dp", "dq", "qi"] { object[privateMember] = nil }
            do {
                let jwk = try JWK(json: JSON.object(object).serializedString)
                let collection = JWTKeyCollection()
                try await collection.add(jwk: jwk)
                if keys[kid] != nil { ambiguous.insert(kid) }
                keys[kid] = Key(kid: kid, algorithm: algorithm, collection: collection)
            } catch {
                throw InvalidKeySet(description: "keys[\(index)] is not a usable \(keyType ?? "") key")
            }
        }
        for kid in ambiguous { keys[kid] = nil }
        return TenantKeySet(keys: keys, ambiguousKeyIDs: ambiguous)
    }
}
