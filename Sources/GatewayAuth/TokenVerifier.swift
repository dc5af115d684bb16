import Crypto
import FHIRModels
import Foundation
import GatewayConfig
import JWTKit
import Logging
import Synchronization

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Verifies bearer tokens with the keys of the tenant's own issuer and produces a ``TenantScope``.
///
/// JWTKit picks a default key for an unknown or absent `kid` and ignores the header `alg`
/// once a key is chosen, so both are checked here before JWTKit sees the token.
public final class TokenVerifier: Sendable {
    public static let leewaySeconds: Int64 = 60
    public static let maximumTokenBytes = 8192
    static let maximumHeaderBytes = 2048
    static let minimumRefreshInterval: Int64 = 60
    static let cacheCapacity = 10_000

    struct KeyState: Sendable {
        var keySet: TenantKeySet
        var fetchedAt: Int64
        /// Where the keys are refetched from on an unknown `kid`; nil for fixed keys.
        var url: String?
        /// What the keys were installed from.
        var source: TenantConfiguration.KeySource?
    }

    struct CachedScope: Sendable {
        let scope: TenantScope
        let expiresAt: Int64
    }

    /// Verified tokens by the SHA-256 of tenant and token: the cache holds no token, and a
    /// full cache costs 10,000 small entries whatever the tokens' size.
    typealias CacheKey = SHA256.Digest

    /// The admin API's keys sit beside the tenants' under a name no slug can take.
    public static let adminRealm = "_admin"

    let keyStates = Mutex<[String: KeyState]>([:])
    private let cache = Mutex<[CacheKey: CachedScope]>([:])
    private let developmentIssuer: DevelopmentIssuer?
    /// The gateway's own token issuer, whose key every tenant trusts for the tokens it issued for that tenant.
    let backendIssuer: BackendTokenIssuer?
    let logger: Logger

    public init(developmentIssuer: DevelopmentIssuer?, backendIssuer: BackendTokenIssuer? = nil, logger: Logger) {
        self.developmentIssuer = developmentIssuer
        self.backendIssuer = backendIssuer
        self.logger = logger
    }

    /// A verifier holding every configured tenant's keys (tests and tools; the application installs
    /// tenants from the registry as they change).
    public static func load(configuration: GatewayConfiguration, developmentIssuer: DevelopmentIssuer?, logger: Logger) async throws(ConfigurationError) -> TokenVerifier {
        let verifier = TokenVerifier(developmentIssuer: developmentIssuer, logger: logger)
        for (index, tenant) in configuration.tenants.enumerated() {
            do { try await verifier.install(realm: tenant.slug, keySource: tenant.keySource, fetchNow: true) } catch {
                throw ConfigurationError(field: "tenants[\(index)].\(error.field)", error.problem)
            }
        }
        return verifier
    }

    /// Trusts `keySource` for `realm` (a tenant slug, or ``adminRealm``) from now on, and forgets the
    /// realm's verified tokens. A JWKS URL is fetched now when `fetchNow`, else on the first token.
    public func install(realm: String, keySource: TenantConfiguration.KeySource, fetchNow: Bool) async throws(ConfigurationError) {
        var state = KeyState(keySet: .empty, fetchedAt: 0, url: nil, source: keySource)
        switch keySource {
        case .development:
            guard let developmentIssuer else { throw ConfigurationError(field: "issuer", "the development issuer is not available") }
            state.keySet = developmentIssuer.keySet
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else { throw ConfigurationError(field: "jwks_file", "cannot read '\(path)'") }
            do { state.keySet = try await TenantKeySet.parse(jwks: [UInt8](data)) } catch {
                throw ConfigurationError(field: "jwks_file", error.description)
            }
        case .inline(let text):
            do { state.keySet = try await TenantKeySet.parse(jwks: Array(text.utf8)) } catch {
                throw ConfigurationError(field: "jwks", error.description)
            }
        case .url(let url):
            state.url = url
            if fetchNow {
                if let keySet = try? await Self.fetch(url: url), !keySet.keys.isEmpty {
                    state.keySet = keySet
                    state.fetchedAt = Int64(Date().timeIntervalSince1970)
                } else {
                    logger.warning("JWKS not available yet; will retry on first token", metadata: ["tenant": "\(realm)"])
                }
            }
        }
        keyStates.withLock { $0[realm] = state }
        forgetTokens(of: realm)
    }

    /// Stops trusting any key for `realm` (a deleted tenant), and for the backend clients under it.
    public func remove(realm: String) {
        keyStates.withLock { states in states = states.filter { $0.key != realm && !$0.key.hasPrefix(realm + "/") } }
        forgetTokens(of: realm)
    }

    /// Whether keys are held for `realm` now (fetched or fixed).
    public func hasKeys(realm: String) -> Bool { !(keyStates.withLock { $0[realm]?.keySet.keys.isEmpty } ?? true) }

    public func forgetTokens(of realm: String) {
        cache.withLock { entries in entries = entries.filter { $0.value.scope.slug != realm } }
    }

    static func fetch(url: String) async throws -> TenantKeySet {
        guard let address = URL(string: url) else { throw TenantKeySet.InvalidKeySet(description: "bad JWKS URL") }
        var request = URLRequest(url: address)
        request.timeoutInterval = 5
        let (data, response) = try await URLSession.shared.data(for: request)
        guard (response as? HTTPURLResponse)?.statusCode == 200, data.count <= 1_000_000 else {
            throw TenantKeySet.InvalidKeySet(description: "JWKS fetch failed")
        }
        return try await TenantKeySet.parse(jwks: [UInt8](data))
    }

    /// Checks the `Authorization` header for `tenant` and returns the proof of tenant.
    public func authorize(authorization: String?, tenant: TenantConfiguration, tenantID: String,
                          now: Int64 = Int64(Date().timeIntervalSince1970)) async throws(AuthFailure) -> TenantScope {
        guard let authorization, !authorization.isEmpty else { throw .missingToken }
        guard authorization.utf8.count <= Self.maximumTokenBytes + 7 else { throw .oversizedToken }
        guard authorization.count > 7, authorization.prefix(7).lowercased() == "bearer " else { throw .malformedToken }
        let token = String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        let cacheKey = SHA256.hash(data: Data((tenant.slug + " " + token).utf8))

        if let cached = cache.withLock({ $0[cacheKey] }) {
            guard now <= cached.expiresAt + Self.leewaySeconds else { throw .expired }
            return cached.scope
        }

        let claims = try await verifiedClaims(token, realm: tenant.slug, issuer: tenant.issuer, audience: tenant.audience,
                                              tenantClaim: (tenant.tenantClaim, tenant.slug),
                                              gatewayIssuer: backendIssuer?.issuer(slug: tenant.slug), now: now)
        guard let expiry = Self.numericDate(claims["exp"]) else { throw .missingExpiry }
        let scopeText: String
        if let text = claims["scope"]?.stringValue {
            scopeText = text
        } else if let list = claims["scp"]?.arrayValue {
            scopeText = list.compactMap(\.stringValue).joined(separator: " ")
        } else {
            scopeText = ""
        }
        var scope = TenantScope(
            slug: tenant.slug, tenantID: tenantID, subject: claims["sub"]?.stringValue,
            clientID: claims["azp"]?.stringValue ?? claims["client_id"]?.stringValue, scope: scopeText,
            patient: claims["patient"]?.stringValue, fhirUser: claims["fhirUser"]?.stringValue)
        if let name = tenant.hospitalClaim, let value = claims[name] {
            scope.hospitalClaim = try Self.hospitals(value)
        }
        cache.withLock { entries in
            if entries.count >= Self.cacheCapacity { entries.removeAll(keepingCapacity: true) }
            entries[cacheKey] = CachedScope(scope: scope, expiresAt: expiry)
        }
        return scope
    }

    /// The claims of a token signed by one of `realm`'s keys, checked for time, issuer and audience
    /// (and the tenant claim when given); the checks every token passes, tenant or admin.
    /// With `gatewayIssuer`, a token whose `kid` names the gateway's own signing key is verified
    /// with that key and must name `gatewayIssuer` as its issuer instead of `issuer`.
    func verifiedClaims(_ token: String, realm: String, issuer: String, audience: String, tenantClaim: (String, String)?,
                        gatewayIssuer: String? = nil, now: Int64) async throws(AuthFailure) -> JSONObject {
        let segments = token.split(separator: ".", omittingEmptySubsequences: false)
        guard segments.count == 3, !segments[0].isEmpty, !segments[1].isEmpty, !segments[2].isEmpty,
              !token.contains("=") else { throw .malformedToken }  // base64url without padding (RFC 7515 §2)
        guard segments[0].utf8.count <= Self.maximumHeaderBytes else { throw .oversizedToken }
        guard let headerBytes = Base64URL.decode(segments[0]), let header = try? JSONParser.parse(headerBytes, maximumDepth: 4),
              case .object(let headerObject) = header else { throw .malformedToken }
        guard let algorithm = headerObject["alg"]?.stringValue else { throw .malformedToken }
        // No critical extension is understood here, so a token that names any must be refused (RFC 7515 §4.1.11).
        guard headerObject["crit"] == nil else { throw .malformedToken }
        guard TenantKeySet.asymmetricAlgorithms.contains(algorithm) else { throw .unsupportedAlgorithm }
        guard let kid = headerObject["kid"]?.stringValue, !kid.isEmpty else { throw .unknownKey }

        let key: TenantKeySet.Key
        var expectedIssuer = issuer
        if let gatewayIssuer, let gatewayKey = backendIssuer?.keySet.keys[kid] {
            key = gatewayKey
            expectedIssuer = gatewayIssuer
        } else {
            key = try await self.key(for: kid, tenant: realm, now: now)
        }
        guard key.algorithm == algorithm else { throw .algorithmMismatch }
        do {
            _ = try await key.collection.verify(token, as: SignatureOnlyPayload.self)
        } catch {
            throw .badSignature
        }

        guard let payloadBytes = Base64URL.decode(segments[1]), let payload = try? JSONParser.parse(payloadBytes, maximumDepth: 16),
              case .object(let claims) = payload else { throw .malformedToken }
        // Signed with a key this tenant trusts but naming another tenant: 403, whatever else the token says.
        if let (claim, value) = tenantClaim { guard claims[claim]?.stringValue == value else { throw .tenantMismatch } }
        guard let expiry = Self.numericDate(claims["exp"]) else { throw .missingExpiry }
        guard now <= expiry + Self.leewaySeconds else { throw .expired }
        if let notBefore = claims["nbf"] {
            guard let notBefore = Self.numericDate(notBefore) else { throw .malformedToken }
            guard now + Self.leewaySeconds >= notBefore else { throw .notYetValid }
        }
        guard claims["iss"]?.stringValue == expectedIssuer else { throw .wrongIssuer }
        switch claims["aud"] {
        case .string(let named)? where named == audience: break
        case .array(let audiences)? where audiences.contains(.string(audience)): break
        default: throw .wrongAudience
        }

        return claims
    }

    /// Checks an admin API bearer token: the admin issuer's keys and audience, and the admin scope.
    public func authorizeAdmin(authorization: String?, admin: GatewayConfiguration.Admin,
                               now: Int64 = Int64(Date().timeIntervalSince1970)) async throws(AuthFailure) -> (subject: String, clientID: String?) {
        guard let authorization, !authorization.isEmpty else { throw .missingToken }
        guard authorization.utf8.count <= Self.maximumTokenBytes + 7 else { throw .oversizedToken }
        guard authorization.count > 7, authorization.prefix(7).lowercased() == "bearer " else { throw .malformedToken }
        let token = String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        let claims = try await verifiedClaims(token, realm: Self.adminRealm, issuer: admin.issuer, audience: admin.audience,
                                              tenantClaim: nil, now: now)
        let scopes = (claims["scope"]?.stringValue ?? "").split(separator: " ").map(String.init)
        guard scopes.contains(admin.scope) else { throw .insufficientScope }
        guard let subject = claims["sub"]?.stringValue, !subject.isEmpty, subject.utf8.count <= 256 else { throw .malformedToken }
        return (subject, claims["azp"]?.stringValue ?? claims["client_id"]?.stringValue)
    }

    /// Looks the `kid` up in the tenant's keys; for a JWKS URL, refetches at most once a minute on a miss.
    private func key(for kid: String, tenant slug: String, now: Int64) async throws(AuthFailure) -> TenantKeySet.Key {
        let state = keyStates.withLock { $0[slug] }
        if let key = state?.keySet.keys[kid] { return key }
        guard let url = state?.url else { throw .unknownKey }
        let mayRefresh = keyStates.withLock { states -> Bool in
            guard now - (states[slug]?.fetchedAt ?? 0) >= Self.minimumRefreshInterval else { return false }
            states[slug]?.fetchedAt = now
            return true
        }
        guard mayRefresh else { throw .unknownKey }
        do {
            let fresh = try await Self.fetch(url: url)
            keyStates.withLock { states in
                // Replaced meanwhile (the tenant's issuer changed): keep the new source.
                if states[slug]?.url == url { states[slug] = KeyState(keySet: fresh, fetchedAt: now, url: url) }
            }
            // A key the issuer withdrew must not keep its tokens alive in the cache.
            forgetTokens(of: slug)
            if let key = fresh.keys[kid] { return key }
        } catch {
            logger.warning("JWKS refresh failed", metadata: ["tenant": "\(slug)"])
        }
        throw .unknownKey
    }

    /// The hospital claim's values: a list of strings (or one string), at most 100 of at most 64
    /// characters; anything else makes the token malformed.
    static func hospitals(_ value: JSON) throws(AuthFailure) -> [String] {
        let items: [JSON]
        switch value {
        case .string: items = [value]
        case .array(let list): items = list
        default: throw .malformedToken
        }
        guard items.count <= 100 else { throw .malformedToken }
        var hospitals: [String] = []
        for item in items {
            guard let text = item.stringValue, (1...64).contains(text.utf8.count) else { throw .malformedToken }
            hospitals.append(text)
        }
        return hospitals
    }

    /// Seconds of years 1 to 9999: a NumericDate outside is malformed, so it never reaches a conversion or a sum that could trap.
    static let numericDateRange: ClosedRange<Double> = -62_135_596_800 ... 253_402_300_799

    static func numericDate(_ value: JSON?) -> Int64? {
        guard case .number(let text)? = value, let number = Double(text), number.isFinite,
              numericDateRange.contains(number) else { return nil }
        return Int64(exactly: number.rounded(.down))
    }
}
