import FHIRModels
import HTTPTypes
import Hummingbird

/// Resolves the tenant of the path (404 when unknown), answers CORS preflights and the tenant's
/// public documents (CapabilityStatement, SMART configuration), names the interaction, and puts
/// the tenant's CORS headers on every answer of the layers inside, errors included.
struct TenantMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let services: GatewayServices

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let route = context.route else { throw FHIRError.notFound("no FHIR endpoint at this path") }
        guard let tenant = services.tenants[route.slug] else { throw FHIRError.notFound("unknown tenant") }
        context.state.update { $0.tenant = route.slug }
        let origin = request.headers[.origin]
        if request.method == .options {
            context.state.update { $0.interaction = "cors-preflight" }
            return CORSPolicy.preflight(origin: origin, tenant: tenant.configuration)
        }
        var response: Response
        do {
            response = try await answer(request, context: context, tenant: tenant, rest: route.rest, next: next)
        } catch {
            response = FHIRResponse.error(.classify(error, logger: services.logger, requestID: context.state.snapshot.requestID))
        }
        CORSPolicy.decorate(&response, origin: origin, tenant: tenant.configuration)
        return response
    }

    private func answer(_ request: Request, context: Context, tenant: ResolvedTenant, rest: [String],
                        next: (Request, Context) async throws -> Response) async throws -> Response {
        if let endpoint = context.backendEndpoint {
            context.state.update { $0.interaction = endpoint.interaction }
            var context = context
            context.tenant = tenant
            return try await next(request, context)
        }
        guard let interaction = FHIRInteraction.parse(method: request.method.rawValue, rest: rest) else {
            throw FHIRError.notFound("no FHIR endpoint at this path")
        }
        context.state.update {
            $0.interaction = interaction.name
            $0.resourceType = interaction.resourceType
        }
        switch interaction {
        case .smartConfiguration:
            return FHIRResponse.json(tenant.smartConfiguration, contentType: ContentNegotiation.plainJSON,
                                     headers: [("Cache-Control", "public, max-age=300")])
        case .capabilities:
            let parameters = try QueryString.parse(request.uri.query)
            let contentType = try ContentNegotiation.responseType(format: parameters.last { $0.0 == "_format" }?.1, accept: request.headers[.accept])
            return try MetadataController.respond(tenant: tenant, parameters: parameters, request: request, contentType: contentType)
        default:
            var context = context
            context.tenant = tenant
            context.interaction = interaction
            context.subjects = AuditSubjects(baseURL: tenant.baseURL)
            return try await next(request, context)
        }
    }
}
