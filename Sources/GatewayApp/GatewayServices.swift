import FHIRModels
import GatewayAuth
import GatewayConfig
import GatewayStore
import HMSMapping
import Logging
import Tracing

/// A configured tenant joined with its HMS id; its public documents are rendered on first use.
struct ResolvedTenant: Sendable {
    let configuration: TenantConfiguration
    /// Nil when the HMS has no such tenant: its data routes answer 503 until it exists.
    let hmsTenantID: String?
    let baseURL: String
    let mapping: MappingContext
    let documents: TenantDocuments
    /// The tenant's limits in force: its own over its tier's.
    let limits: TenantLimits
    /// The store holding the tenant's data (the shared one unless the registry names another).
    let store: TenantStore

    var repository: HMSRepository { store.repository }
    var audit: AuditWriter { store.audit }

    var capability: CapabilityStatementRenderer.Rendered { documents.documents(for: self).capability }
    var smartConfiguration: JSON { documents.documents(for: self).smartConfiguration }
}

/// One configured data store: its repository and the group-commit writer of its audit records.
struct TenantStore: Sendable {
    let name: String
    let repository: HMSRepository
    let audit: AuditWriter
}

/// Everything request handling needs, built once by `buildApplication`.
struct GatewayServices: Sendable {
    let configuration: GatewayConfiguration
    let tenants: TenantDirectory
    let verifier: TokenVerifier
    /// The shared store: the registry, the admin chain, and the data of tenants without a store of their own.
    let repository: HMSRepository
    /// Every configured store by name, `shared` included.
    let stores: [String: TenantStore]
    let cursors: CursorCodec
    let developmentIssuer: DevelopmentIssuer?
    /// Signs the tokens of the tenants' `/auth/token` endpoints (SMART Backend Services).
    let backendIssuer: BackendTokenIssuer
    let limiter: TenantLimiter
    let quota: StorageQuota
    let hospitals: HospitalResolver
    let metrics: GatewayMetrics
    /// Traces requests when set; nil means tracing is off and no span is made.
    let tracer: (any Tracer)?
    let logger: Logger
}
