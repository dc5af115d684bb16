import FHIRModels
import Hummingbird

/// Parses the query once (400 when malformed) and chooses the response media type from `_format`
/// and `Accept` (406 when none can be served).
struct ContentNegotiationMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.parameters = try QueryString.parse(request.uri.query)
        let format = context.parameters.last { $0.0 == "_format" }?.1
        if case .exportFile? = context.interaction {
            // A download is NDJSON whatever `Accept` says (the Bulk Data client asks for application/fhir+ndjson); errors stay FHIR JSON.
            context.contentType = ContentNegotiation.fhirJSON
        } else {
            context.contentType = try ContentNegotiation.responseType(format: format, accept: request.headers[.accept])
        }
        return try await next(request, context)
    }
}
