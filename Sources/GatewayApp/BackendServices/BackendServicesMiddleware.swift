import FHIRModels
import Hummingbird

/// Answers the gateway's own authorisation server endpoints under a tenant (`/<tenant>/auth/token`,
/// `/<tenant>/auth/jwks.json`) once the tenant is resolved and its rate limit passed: they take no
/// bearer token, no business associate agreement and no FHIR audit record. Everything else goes on.
struct BackendServicesMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let services: GatewayServices

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let endpoint = context.backendEndpoint, let tenant = context.tenant else { return try await next(request, context) }
        switch endpoint {
        case .jwks:
            guard request.method == .get || request.method == .head else {
                throw FHIRError(status: 405, code: .notSupported, "use GET", headers: [("Allow", "GET, HEAD")])
            }
            return FHIRResponse.json(services.backendIssuer.jwks, contentType: ContentNegotiation.plainJSON,
                                     headers: [("Cache-Control", "public, max-age=300")])
        case .token:
            return await BackendTokenController(services: services).respond(request, tenant: tenant, state: context.state)
        }
    }
}
