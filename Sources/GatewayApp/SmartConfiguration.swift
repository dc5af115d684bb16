import FHIRModels
import GatewayAuth
import GatewayConfig

/// The tenant's `.well-known/smart-configuration` document.
enum SmartConfiguration {
    /// What the resource server really does; grows as enforcement does.
    static let capabilities = ["permission-v1", "permission-v2", "permission-user", "permission-patient", "client-confidential-asymmetric"]

    /// The one `token_endpoint` is the gateway's own (`backendTokenEndpoint`) when the tenant has
    /// backend clients and its `token_endpoint` is the default derived from its issuer; an explicitly
    /// configured token endpoint (the tenant's identity provider) is always kept.
    static func document(tenant: TenantConfiguration, developmentJWKS: String, backendTokenEndpoint: String) -> JSON {
        var document = JSONObject()
        document.append("issuer", tenant.issuer)
        switch tenant.keySource {
        case .development: document.append("jwks_uri", developmentJWKS)
        case .url(let url): document.append("jwks_uri", url)
        case .file, .inline: break
        }
        document.append("authorization_endpoint", tenant.authorizationEndpoint)
        let gatewayIssues = !tenant.backendClients.isEmpty && tenant.tokenEndpoint == tenant.defaultTokenEndpoint
        document.append("token_endpoint", gatewayIssues ? backendTokenEndpoint : tenant.tokenEndpoint)
        document.append("token_endpoint_auth_methods_supported", .array([.string("private_key_jwt")]))
        document.append("token_endpoint_auth_signing_alg_values_supported", .array(["RS384", "ES384"].map(JSON.string)))
        document.append("grant_types_supported", .array(["authorization_code", "client_credentials"].map(JSON.string)))
        document.append("scopes_supported", .array(ScopePolicy.supportedScopeExamples(resourceTypes: tenant.resourceTypes).map(JSON.string)))
        document.append("response_types_supported", .array([.string("code")]))
        document.append("code_challenge_methods_supported", .array([.string("S256")]))
        document.append("capabilities", .array(capabilities.map(JSON.string)))
        return .object(document)
    }
}
