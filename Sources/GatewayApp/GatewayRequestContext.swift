import GatewayAuth
import Hummingbird
import NIOCore

/// Hummingbird's request context plus what the pipeline learns about a request on its way in:
/// each layer sets its part (route, tenant, content type, scope) for the layers inside it.
public struct GatewayRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// Shared by every layer: what the request did, for the outer layers' log, metrics and audit.
    let state = RequestState()
    /// Set by ``PathGuardMiddleware``: the path after `/<tenant>/r4/`.
    var route: (slug: String, rest: [String])?
    /// Set by ``PathGuardMiddleware`` for the gateway's own token endpoint and key set (not FHIR routes).
    var backendEndpoint: BackendEndpoint?
    /// Set by ``TenantMiddleware``.
    var tenant: ResolvedTenant?
    var interaction: FHIRInteraction?
    var subjects: AuditSubjects?
    /// Set by ``ContentNegotiationMiddleware``: the response media type and the parsed query.
    var contentType: String?
    var parameters: [(String, String)] = []
    /// Set by ``AuthenticationMiddleware``: the proof that the token and tenant checks passed.
    var scope: TenantScope?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }

    var address: String? { remoteAddress?.ipAddress }
}
