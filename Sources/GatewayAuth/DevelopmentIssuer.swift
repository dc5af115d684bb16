import Crypto
import FHIRModels
import Foundation

/// The built-in issuer for trying the gateway and for tests: an ES256 key generated on first
/// start and kept in a PEM file beside the database.
public struct DevelopmentIssuer: Sendable {
    public let issuer: String
    public let kid: String
    let privateKey: P256.Signing.PrivateKey
    public let keySet: TenantKeySet
    /// The public key set, as served at `/dev-issuer/jwks.json`.
    public let jwks: JSON

    public typealias Failure = SigningKeyFailure

    public static func loadOrCreate(keyFile: String, issuer: String) async throws(Failure) -> DevelopmentIssuer {
        let privateKey: P256.Signing.PrivateKey = try SigningKeyFile.loadOrCreate(keyFile, kind: "development issuer", curve: "P-256", parse: { try P256.Signing.PrivateKey(pemRepresentation: $0) },
                                                             make: { P256.Signing.PrivateKey() }, pem: { $0.pemRepresentation })
        return try await DevelopmentIssuer(issuer: issuer, privateKey: privateKey)
    }

    public init(issuer: String, privateKey: P256.Signing.PrivateKey) async throws(Failure) {
        let point = Array(privateKey.publicKey.x963Representation.dropFirst())
        let kid = String(Base64URL.encode(SHA256.hash(data: point)).prefix(16))
        let jwks = ECPublicKeySet.jwks(point: point, curve: "P-256", algorithm: "ES256", kid: kid)
        self.issuer = issuer
        self.kid = kid
        self.privateKey = privateKey
        self.jwks = jwks
        do { self.keySet = try await TenantKeySet.parse(jwks: jwks.serialized) } catch {
            throw Failure(description: "development issuer key is unusable")
        }
    }

    /// Signs `claims` as a compact JWS with ES256 and this issuer's `kid`.
    public func sign(claims: JSONObject) throws -> String {
        try ECPublicKeySet.compactJWS(claims: claims, algorithm: "ES256", kid: kid) { try privateKey.signature(for: $0).rawRepresentation }
    }

    /// The registered claims every minted token carries.
    private func standardClaims(subject: String, audience: String, ttlSeconds: Int64, now: Int64) -> JSONObject {
        var claims = JSONObject()
        claims.append("iss", issuer)
        claims.append("sub", subject)
        claims.append("aud", audience)
        claims.append("iat", .int(Int(now)))
        claims.append("nbf", .int(Int(now)))
        claims.append("exp", .int(Int(now + ttlSeconds)))
        claims.append("jti", UUID().lowercasedString)
        return claims
    }

    /// Mints an admin API token (no tenant claim).
    public func mintAdminToken(audience: String, scope: String, subject: String, ttlSeconds: Int64 = 3600,
                               now: Int64 = Int64(Date().timeIntervalSince1970)) throws -> String {
        var claims = standardClaims(subject: subject, audience: audience, ttlSeconds: ttlSeconds, now: now)
        claims.append("azp", "fhir-gateway-cli")
        claims.append("scope", scope)
        return try sign(claims: claims)
    }

    /// Mints an access token for a tenant, the way a SMART authorisation server would.
    public func mintToken(tenant: String, audience: String, tenantClaim: String = "tenant_id", scope: String,
                          patient: String? = nil, fhirUser: String? = nil, subject: String = "dev-user",
                          clientID: String = "fhir-gateway-cli", ttlSeconds: Int64 = 3600,
                          now: Int64 = Int64(Date().timeIntervalSince1970)) throws -> String {
        var claims = standardClaims(subject: subject, audience: audience, ttlSeconds: ttlSeconds, now: now)
        claims.append(tenantClaim, tenant)
        claims.append("azp", clientID)
        claims.append("scope", scope)
        claims.append("patient", patient)
        claims.append("fhirUser", fhirUser)
        return try sign(claims: claims)
    }
}
