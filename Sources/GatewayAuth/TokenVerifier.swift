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
    }

    struct CachedScope: Sendable {
        let scope: TenantScope
        let expiresAt: Int64
    }

    /// Verified tokens by the SHA-256 of tenant and token: the cache holds no token, and a
    /// full cache costs 10,000 small entries whatever the tokens' size.
    typealias CacheKey = SHA256.Digest

    private let keyStates: Mutex<[String: KeyState]>
    private let jwksURLs: [String: String]
    private let cache = Mutex<[CacheKey: CachedScope]>([:])
    private let logger: Logger

    init(keySets: [String: TenantKeySet], jwksURLs: [String: String], logger: Logger) {
        self.keyStates = Mutex(keySets.mapValues { KeyState(keySet: $0, fetchedAt: 0) })
        self.jwksURLs = jwksURLs
        self.logger = logger
    }

    /// Loads every tenant's keys. A file that cannot be read fails start-up naming the tenant;
    /// a JWKS URL that cannot be fetched now is retried on the first token.
    public static func load(configuration: GatewayConfiguration, developmentIssuer: DevelopmentIssuer?, logger: Logger) async throws(ConfigurationError) -> TokenVerifier {
        var keySets: [String: TenantKeySet] = [:]
        var urls: [String: String] = [:]
        for (index, tenant) in configuration.tenants.enumerated() {
            switch tenant.keySource {
            case .development:
                guard let developmentIssuer else { throw ConfigurationError(field: "tenants[\(index)].issuer", "the development issuer is not available") }
                keySets[tenant.slug] = developmentIssuer.keySet
            case .file(let path):
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw ConfigurationError(field: "tenants[\(index)].jwks_file", "cannot read '\(path)'")
                }
                do { keySets[tenant.slug] = try await TenantKeySet.parse(jwks: [UInt8](data)) } catch {
                    throw ConfigurationError(field: "tenants[\(index)].jwks_file", error.description)
                }
            case .url(let url):
                urls[tenant.slug] = url
                keySets[tenant.slug] = (try? await fetch(url: url)) ?? .empty
                if keySets[tenant.slug]?.keys.isEmpty ?? true {
                    logger.warning("JWKS not available yet; will retry on first token", metadata: ["tenant": "\(tenant.slug)"])
                }
            }
        }
        let verifier = TokenVerifier(keySets: keySets, jwksURLs: urls, logger: logger)
        let now = Int64(Date().timeIntervalSince1970)
        verifier.keyStates.withLock { states in
            for slug in urls.keys where !(states[slug]?.keySet.keys.isEmpty ?? true) { states[slug]?.fetchedAt = now }
        }
        return verifier
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

        let key = try await key(for: kid, tenant: tenant.slug, now: now)
        guard key.algorithm == algorithm else { throw .algorithmMismatch }
        do {
            _ = try await key.collection.verify(token, as: SignatureOnlyPayload.self)
        } catch {
            throw .badSignature
        }

        guard let payloadBytes = Base64URL.decode(segments[1]), let payload = try? JSONParser.parse(payloadBytes, maximumDepth: 16),
              case .object(let claims) = payload else { throw .malformedToken }
        // Signed with a key this tenant trusts but naming another tenant: 403, whatever else the token says.
        guard claims[tenant.tenantClaim]?.stringValue == tenant.slug else { throw .tenantMismatch }
        guard let expiry = Self.numericDate(claims["exp"]) else { throw .missingExpiry }
        guard now <= expiry + Self.leewaySeconds else { throw .expired }
        if let notBefore = claims["nbf"] {
            guard let notBefore = Self.numericDate(notBefore) else { throw .malformedToken }
            guard now + Self.leewaySeconds >= notBefore else { throw .notYetValid }
        }
        guard claims["iss"]?.stringValue == tenant.issuer else { throw .wrongIssuer }
        switch claims["aud"] {
        case .string(let audience)? where audience == tenant.audience: break
        case .array(let audiences)? where audiences.contains(.string(tenant.audience)): break
        default: throw .wrongAudience
        }

        let scopeText: String
        if let text = claims["scope"]?.stringValue {
            scopeText = text
        } else if let list = claims["scp"]?.arrayValue {
            scopeText = list.compactMap(\.stringValue).joined(separator: " ")
        } else {
            scopeText = ""
        }
        let scope = TenantScope(
            slug: tenant.slug, tenantID: tenantID, subject: claims["sub"]?.stringValue,
            clientID: claims["azp"]?.stringValue ?? claims["client_id"]?.stringValue, scope: scopeText,
            patient: claims["patient"]?.stringValue, fhirUser: claims["fhirUser"]?.stringValue)
        cache.withLock { entries in
            if entries.count >= Self.cacheCapacity { entries.removeAll(keepingCapacity: true) }
            entries[cacheKey] = CachedScope(scope: scope, expiresAt: expiry)
        }
        return scope
    }

    /// Looks the `kid` up in the tenant's keys; for a JWKS URL, refetches at most once a minute on a miss.
    private func key(for kid: String, tenant slug: String, now: Int64) async throws(AuthFailure) -> TenantKeySet.Key {
        let state = keyStates.withLock { $0[slug] }
        if let key = state?.keySet.keys[kid] { return key }
        guard let url = jwksURLs[slug] else { throw .unknownKey }
        let mayRefresh = keyStates.withLock { states -> Bool in
            guard now - (states[slug]?.fetchedAt ?? 0) >= Self.minimumRefreshInterval else { return false }
            states[slug]?.fetchedAt = now
            return true
        }
        guard mayRefresh else { throw .unknownKey }
        do {
            let fresh = try await Self.fetch(url: url)
            keyStates.withLock { $0[slug] = KeyState(keySet: fresh, fetchedAt: now) }
            // A key the issuer withdrew must not keep its tokens alive in the cache.
            cache.withLock { entries in entries = entries.filter { $0.value.scope.slug != slug } }
            if let key = fresh.keys[kid] { return key }
        } catch {
            logger.warning("JWKS refresh failed", metadata: ["tenant": "\(slug)"])
        }
        throw .unknownKey
    }

    /// Seconds of years 1 to 9999: a NumericDate outside is malformed, so it never reaches a conversion or a sum that could trap.
    static let numericDateRange: ClosedRange<Double> = -62_135_596_800 ... 253_402_300_799

    static func numericDate(_ value: JSON?) -> Int64? {
        guard case .number(let text)? = value, let number = Double(text), number.isFinite,
              numericDateRange.contains(number) else { return nil }
        return Int64(exactly: number.rounded(.down))
    }
}
