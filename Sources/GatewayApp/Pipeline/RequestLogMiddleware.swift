import FHIRModels
import Foundation
import HTTPTypes
import GatewayStore
import Hummingbird
import Tracing

/// Outermost layer: the request id, one PHI-free log line, the metrics and the server span of every
/// answer, and the one place where an error becomes an OperationOutcome for requests no inner layer answered.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let services: GatewayServices

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        services.metrics.started()
        let requestID = Self.requestID(request)
        context.state.update {
            $0.requestID = requestID
            $0.method = Self.knownMethods.contains(request.method.rawValue) ? request.method.rawValue : "_OTHER"
        }
        var response: Response
        if let tracer = services.tracer {
            response = await traced(request, context: context, requestID: requestID, tracer: tracer, next: next)
        } else {
            // Not traced here, but the caller's trace id still goes in the log line.
            if let traceparent = request.headers[.traceparent] { context.state.update { $0.traceID = TraceParent.traceID(traceparent) } }
            response = await answer(request, context: context, requestID: requestID, next: next)
        }
        let elapsed = ContinuousClock.now - started
        let record = context.state.snapshot
        record.log(to: services.logger, status: Int(response.status.code), durationMilliseconds: Double(elapsed / .microseconds(1)) / 1000,
                   typeLabel: services.metrics.resourceTypeLabel)
        services.metrics.finished(record: record, status: Int(response.status.code), duration: elapsed)
        return response
    }

    private func answer(_ request: Request, context: Context, requestID: String,
                        next: (Request, Context) async throws -> Response) async -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = FHIRResponse.error(.classify(error, logger: services.logger, requestID: requestID))
        }
        response.headers[.requestID] = requestID
        if request.method == .head { response = response.createHeadResponse() }
        return response
    }

    /// The request in a server span that continues the caller's W3C trace, if it sent one. The span
    /// is named after the route template once the inner layers have found it (`GET /{tenant}/r4/Patient/{id}`)
    /// and carries only PHI-free attributes: method, route, status, tenant slug, interaction, resource type.
    private func traced(_ request: Request, context: Context, requestID: String, tracer: any Tracer,
                        next: (Request, Context) async throws -> Response) async -> Response {
        var parent = ServiceContext.topLevel
        tracer.extract(request.headers, into: &parent, using: HTTPFieldsExtractor())
        parent.requestTracer = tracer
        let span = tracer.startAnySpan("HTTP", context: parent, ofKind: .server)
        context.state.update { $0.traceID = TraceParent.traceID(of: span.context, tracer: tracer) }
        let response = await ServiceContext.$current.withValue(span.context) { await answer(request, context: context, requestID: requestID, next: next) }
        let record = context.state.snapshot
        let status = Int(response.status.code)
        span.operationName = record.route.map { "\(record.method) \($0)" } ?? record.method
        var attributes: SpanAttributes = [
            "http.request.method": .string(record.method),
            "http.response.status_code": .int64(Int64(status)),
            "request_id": .string(record.requestID),
        ]
        if let route = record.route { attributes["http.route"] = route }
        if let tenant = record.tenant { attributes["tenant"] = tenant }
        if let interaction = record.interaction { attributes["fhir.interaction"] = interaction }
        if record.resourceType != nil { attributes["fhir.type"] = services.metrics.resourceTypeLabel(record.resourceType) }
        if let resultCount = record.resultCount { attributes["fhir.results"] = Int64(resultCount) }
        if let authFailure = record.authFailure { attributes["auth.failure"] = authFailure }
        span.attributes = attributes
        if status >= 500 { span.setStatus(SpanStatus(code: .error)) }
        span.end()
        return response
    }

    /// Methods logged and put in span names as they are; any other is `_OTHER` (OpenTelemetry's HTTP
    /// conventions), so a client cannot put text of its own in logs or mint span names.
    static let knownMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"]

    /// Accepts a caller's request id if it is short and plain; otherwise makes one.
    static func requestID(_ request: Request) -> String {
        if let supplied = request.headers[.requestID], (1...128).contains(supplied.utf8.count),
           supplied.utf8.allSatisfy(isRequestIDByte) {
            return supplied
        }
        return UUID().lowercasedString
    }

    private static func isRequestIDByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"): true
        default: false
        }
    }
}
