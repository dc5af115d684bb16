import Crypto
import FHIRModels
import Foundation
import GatewayConfig

/// Signs the access tokens of the gateway's own token endpoint (SMART Backend Services) with one
/// ES384 key that every replica shares (a PEM file, made on first start). Each tenant's tokens
/// name that tenant's issuer, `<public_base_url>/<slug>/auth`; the key is served as a JWKS at
/// `<issuer>/jwks.json`.
public struct BackendTokenIssuer: Sendable {
    public static let algorithm = "ES384"
    /// The longest lifetime of an issued token, in seconds.
    public static let lifetimeSeconds: Int64 = 300

    public let kid: String
    let privateKey: P384.Signing.PrivateKey
    let publicBaseURL: String
    public let keySet: TenantKeySet
    public let jwks: JSON

    public typealias Failure = SigningKeyFailure

    public static func loadOrCreate(keyFile: String, publicBaseURL: String) async throws(Failure) -> BackendTokenIssuer {
        let privateKey: P384.Signing.PrivateKey = try SigningKeyFile.loadOrCreate(keyFile, kind: "backend services signing", curve: "P-384",
                                                             parse: { try P384.Signing.PrivateKey(pemRepresentation: $0) },
                                                             make: { P384.Signing.PrivateKey() }, pem: { $0.pemRepresentation })
        return try await BackendTokenIssuer(privateKey: privateKey, publicBaseURL: publicBaseURL)
    }

    public init(privateKey: P384.Signing.PrivateKey, publicBaseURL: String) async throws(Failure) {
        let point = Array(privateKey.publicKey.x963Representation.dropFirst())
        let kid = "gw-" + String(Base64URL.encode(SHA256.hash(data: point)).prefix(22))
        let jwks = ECPublicKeySet.jwks(point: point, curve: "P-384", algorithm: Self.algorithm, kid: kid)
        self.kid = kid
        self.privateKey = privateKey
        self.publicBaseURL = publicBaseURL
        self.jwks = jwks
        do { self.keySet = try await TenantKeySet.parse(jwks: jwks.serialized) } catch {
            throw Failure(description: "the backend services signing key is unusable")
        }
    }

    /// The `iss` of `slug`'s tokens.
    public func issuer(slug: String) -> String { GatewayConfiguration.backendIssuer(publicBaseURL: publicBaseURL, slug: slug) }

    /// An access token for `client` of `tenant` with the granted `scopes`, valid for ``lifetimeSeconds``.
    public func mint(tenant: TenantConfiguration, clientID: String, scopes: [String],
                     now: Int64 = Int64(Date().timeIntervalSince1970)) throws -> String {
        var claims = JSONObject()
        claims.append("iss", issuer(slug: tenant.slug))
        claims.append("sub", clientID)
        claims.append("aud", tenant.audience)
        claims.append("iat", .int(Int(now)))
        claims.append("exp", .int(Int(now + Self.lifetimeSeconds)))
        claims.append("jti", UUID().lowercasedString)
        claims.append(tenant.tenantClaim, tenant.slug)
        claims.append("azp", clientID)
        claims.append("client_id", clientID)
        claims.append("scope", scopes.joined(separator: " "))
        return try ECPublicKeySet.compactJWS(claims: claims, algorithm: Self.algorithm, kid: kid) { try privateKey.signature(for: $0).rawRepresentation }
    }
}
