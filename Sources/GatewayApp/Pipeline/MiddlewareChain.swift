import Hummingbird

/// Layers of middleware around a final responder, outermost first.
struct MiddlewareChain: HTTPResponder {
    typealias Context = GatewayRequestContext
    private let responder: any HTTPResponder<GatewayRequestContext>

    init(_ layers: [any RouterMiddleware<GatewayRequestContext>], around final: any HTTPResponder<GatewayRequestContext>) {
        var responder = final
        for layer in layers.reversed() { responder = Layer(middleware: layer, next: responder) }
        self.responder = responder
    }

    func respond(to request: Request, context: Context) async throws -> Response {
        try await responder.respond(to: request, context: context)
    }

    private struct Layer: HTTPResponder {
        let middleware: any RouterMiddleware<GatewayRequestContext>
        let next: any HTTPResponder<GatewayRequestContext>

        func respond(to request: Request, context: GatewayRequestContext) async throws -> Response {
            try await middleware.handle(request, context: context) { request, context in try await next.respond(to: request, context: context) }
        }
    }
}
