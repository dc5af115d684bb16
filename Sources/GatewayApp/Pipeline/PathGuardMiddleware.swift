import FHIRModels
import Hummingbird

/// The strict `/<tenant>/r4/<rest>` grammar: operational endpoints are answered here, anything
/// that is not a tenant path is 400 or 404, and there is never a default tenant.
struct PathGuardMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let services: GatewayServices

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var route = FHIRRoute.parse(path: request.uri.path)
        // With a metrics port of its own, the series are served there and not here.
        if route == .metrics, services.configuration.server.metricsPort != nil { route = .notFound }
        context.state.update { $0.route = route.template(knownTypes: GatewayMetrics.knownResourceTypes) }
        switch route {
        case .health:
            return FHIRResponse.json(.object(["status": .string("ok")]), contentType: ContentNegotiation.plainJSON)
        case .ready:
            let reachable = await services.repository.isReachable()
            return FHIRResponse.json(.object(["status": .string(reachable ? "ready" : "database unreachable"),
                                              "tenants": .int(services.tenants.count)]),
                                     status: reachable ? .ok : .serviceUnavailable, contentType: ContentNegotiation.plainJSON)
        case .metrics:
            return FHIRResponse.json(.null, contentType: MetricsResponder.contentType).withBody(services.metrics.render())
        case .developmentJWKS:
            guard let issuer = services.developmentIssuer else { throw FHIRError.notFound("the development issuer is not enabled") }
            return FHIRResponse.json(issuer.jwks, contentType: ContentNegotiation.plainJSON)
        case .malformed:
            throw FHIRError.badRequest("the path does not name a tenant: use /<tenant>/r4/<resource>")
        case .notFound:
            throw FHIRError.notFound("no FHIR endpoint at this path; use /<tenant>/r4/<resource>")
        case .backend(let slug, let endpoint):
            var context = context
            context.route = (slug, [])
            context.backendEndpoint = endpoint
            return try await next(request, context)
        case .tenant(let slug, let rest):
            var context = context
            context.route = (slug, rest)
            return try await next(request, context)
        }
    }
}
