import FHIRModels
import Hummingbird

/// Chooses the response media type from `_format` and `Accept` (406 when none can be served).
struct ContentNegotiationMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let format = try QueryString.parse(request.uri.query).last { $0.0 == "_format" }?.1
        var context = context
        context.contentType = try ContentNegotiation.responseType(format: format, accept: request.headers[.accept])
        return try await next(request, context)
    }
}
