import FHIRModels
import Synchronization

/// Each tenant's CapabilityStatement and SMART document, rendered on first request and kept for
/// the tenants asking for them: with thousands of tenants configured, start-up renders nothing and
/// memory holds at most ``capacity`` tenants' documents.
final class TenantDocuments: Sendable {
    static let capacity = 1_000

    struct Documents: Sendable {
        let capability: CapabilityStatementRenderer.Rendered
        let smartConfiguration: JSON
    }

    private let renderer: CapabilityStatementRenderer
    private let developmentJWKS: String
    /// The issuer of the gateway's own tokens for a slug (its token endpoint is this plus `/token`).
    private let backendIssuer: @Sendable (String) -> String
    private let cache = Mutex<[String: Documents]>([:])

    init(renderer: CapabilityStatementRenderer, developmentJWKS: String, backendIssuer: @escaping @Sendable (String) -> String) {
        self.renderer = renderer
        self.developmentJWKS = developmentJWKS
        self.backendIssuer = backendIssuer
    }

    func documents(for tenant: ResolvedTenant) -> Documents {
        let slug = tenant.configuration.slug
        if let cached = cache.withLock({ $0[slug] }) { return cached }
        // Rendered outside the lock; two first requests at once render twice and agree.
        let rendered = Documents(capability: renderer.render(tenant: tenant.configuration, baseURL: tenant.baseURL),
                                 smartConfiguration: SmartConfiguration.document(tenant: tenant.configuration, developmentJWKS: developmentJWKS,
                                                                                 backendTokenEndpoint: backendIssuer(slug) + "/token"))
        cache.withLock { cache in
            if cache.count >= Self.capacity { cache.removeAll(keepingCapacity: true) }
            cache[slug] = rendered
        }
        return rendered
    }

    /// Drops the tenant's documents (its settings changed); the next request renders them anew.
    func forget(_ slug: String) {
        _ = cache.withLock { $0.removeValue(forKey: slug) }
    }

    /// Documents rendered now (for tests and metrics).
    var count: Int { cache.withLock { $0.count } }
}
