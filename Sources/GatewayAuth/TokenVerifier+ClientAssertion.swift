import FHIRModels
import Foundation
import GatewayConfig

/// SMART Backend Services: a client's signed assertion (`private_key_jwt`, RFC 7523), verified with
/// that client's own registered keys under the same kid and alg pinning as every token.
extension TokenVerifier {
    /// What a verified assertion tells: who, and the `jti` to remember until `rememberUntil`.
    public struct ClientAssertion: Sendable {
        public let client: BackendClient
        public let jti: String
        public let rememberUntil: Int64
    }

    public static let maximumJTIBytes = 256

    /// Checks `assertion` for `tenant`: `iss` = `sub` = a registered client, `aud` = `audience` (the
    /// token URL), `exp` present and at most 5 minutes ahead, a `jti`, a `jku` (if any) equal to the
    /// client's JWKS URL, and a signature by the client's key that `kid` names, with that key's `alg`.
    /// Whether the `jti` is new is for the caller's shared store to decide.
    public func verifyClientAssertion(_ assertion: String, tenant: TenantConfiguration, audience: String,
                                      now: Int64 = Int64(Date().timeIntervalSince1970)) async throws(ClientAssertionFailure) -> ClientAssertion {
        guard assertion.utf8.count <= Self.maximumTokenBytes else { throw .token(.oversizedToken) }
        guard let (header, claims) = Self.unverifiedParts(assertion) else { throw .token(.malformedToken) }
        guard let issuer = claims["iss"]?.stringValue, let subject = claims["sub"]?.stringValue else { throw .missingIssuer }
        guard issuer == subject else { throw .subjectMismatch }
        guard let client = tenant.backendClients.first(where: { $0.clientID == issuer }) else { throw .unknownClient }
        if let jku = header["jku"] {
            guard case .url(let url) = client.keys, jku.stringValue == url else { throw .jkuMismatch }
        }
        let realm = Self.clientRealm(slug: tenant.slug, clientID: client.clientID)
        try await installClientKeys(realm: realm, keys: client.keys)
        let verified: JSONObject
        do {
            verified = try await verifiedClaims(assertion, realm: realm, issuer: client.clientID, audience: audience, tenantClaim: nil, now: now)
        } catch {
            throw .token(error)
        }
        guard let expiry = Self.numericDate(verified["exp"]) else { throw .token(.missingExpiry) }
        guard expiry <= now + BackendTokenIssuer.lifetimeSeconds + Self.leewaySeconds else { throw .lifetimeTooLong }
        guard let jti = verified["jti"]?.stringValue, (1...Self.maximumJTIBytes).contains(jti.utf8.count),
              !jti.unicodeScalars.contains(where: { $0.value < 0x20 }) else { throw .missingJTI }
        return ClientAssertion(client: client, jti: jti, rememberUntil: expiry + Self.leewaySeconds)
    }

    /// The realm holding one backend client's keys; no slug contains `/`, so it never names a tenant.
    static func clientRealm(slug: String, clientID: String) -> String { "\(slug)/client/\(clientID)" }

    /// Installs the client's keys when they are new or changed; a JWKS URL is fetched now, and
    /// again on an unknown `kid` at most once a minute (as for tenants' issuers).
    private func installClientKeys(realm: String, keys: BackendClient.Keys) async throws(ClientAssertionFailure) {
        let source: TenantConfiguration.KeySource
        switch keys {
        case .url(let url): source = .url(url)
        case .inline(let text): source = .inline(text)
        }
        guard keyStates.withLock({ $0[realm]?.source }) != source else { return }
        do { try await install(realm: realm, keySource: source, fetchNow: true) } catch {
            logger.warning("backend client keys cannot be read", metadata: ["realm": "\(realm)"])
            throw .keysUnavailable
        }
    }

    /// Keeps the keys of `slug`'s clients named in `clientIDs` and forgets those of any other.
    public func retainClients(of slug: String, _ clientIDs: Set<String>) {
        let prefix = Self.clientRealm(slug: slug, clientID: "")
        keyStates.withLock { states in
            states = states.filter { !$0.key.hasPrefix(prefix) || clientIDs.contains(String($0.key.dropFirst(prefix.count))) }
        }
    }

    /// Header and claims of a compact JWS, not verified: only to find whose keys verify it.
    static func unverifiedParts(_ token: String) -> (header: JSONObject, claims: JSONObject)? {
        let segments = token.split(separator: ".", omittingEmptySubsequences: false)
        guard segments.count == 3, segments[0].utf8.count <= maximumHeaderBytes,
              let headerBytes = Base64URL.decode(segments[0]), case .object(let header)? = try? JSONParser.parse(headerBytes, maximumDepth: 4),
              let claimBytes = Base64URL.decode(segments[1]), case .object(let claims)? = try? JSONParser.parse(claimBytes, maximumDepth: 16)
        else { return nil }
        return (header, claims)
    }
}
