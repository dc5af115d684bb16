import FHIRModels
import GatewayAuth
import GatewayConfig

/// The tenant's `.well-known/smart-configuration` document.
enum SmartConfiguration {
    /// What the resource server really does; grows as enforcement does.
    static let capabilities = ["permission-v1", "permission-v2", "permission-user", "permission-patient"]

    static func document(tenant: TenantConfiguration, developmentJWKS: String) -> JSON {
        var document = JSONObject()
        document.append("issuer", tenant.issuer)
        switch tenant.keySource {
        case .development: document.append("jwks_uri", developmentJWKS)
        case .url(let url): document.append("jwks_uri", url)
        case .file, .inline: break
        }
        document.append("authorization_endpoint", tenant.authorizationEndpoint)
        document.append("token_endpoint", tenant.tokenEndpoint)
        document.append("grant_types_supported", .array(["authorization_code", "client_credentials"].map(JSON.string)))
        document.append("scopes_supported", .array(ScopePolicy.supportedScopeExamples(resourceTypes: tenant.resourceTypes).map(JSON.string)))
        document.append("response_types_supported", .array([.string("code")]))
        document.append("code_challenge_methods_supported", .array([.string("S256")]))
        document.append("capabilities", .array(capabilities.map(JSON.string)))
        return .object(document)
    }
}
