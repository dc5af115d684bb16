import Hummingbird

/// The metrics listener of `server.metrics_port`: `GET /metrics` and nothing else.
struct MetricsResponder: HTTPResponder {
    typealias Context = BasicRequestContext
    let metrics: GatewayMetrics

    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    func respond(to request: Request, context: Context) async throws -> Response {
        guard request.uri.path == "/metrics" else { return Response(status: .notFound) }
        guard request.method == .get || request.method == .head else { return Response(status: .methodNotAllowed, headers: [.allow: "GET, HEAD"]) }
        let response = Response(status: .ok, headers: [.contentType: Self.contentType], body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.render())))
        return request.method == .head ? response.createHeadResponse() : response
    }
}
