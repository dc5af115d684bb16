import Tracing

/// The tracer recording the current request's spans, carried in the request's `ServiceContext`,
/// so that each application (tests build many in one process) traces with its own tracer and no
/// process-global `InstrumentationSystem` is needed. Absent when tracing is off.
public enum RequestTracerKey: ServiceContextKey {
    public typealias Value = any Tracer
    public static var nameOverride: String? { "fhir-gateway.tracer" }
}

extension ServiceContext {
    /// The tracer of the request this context belongs to; nil when the request is not traced.
    public var requestTracer: (any Tracer)? {
        get { self[RequestTracerKey.self] }
        set { self[RequestTracerKey.self] = newValue }
    }
}

/// Child spans of the current request. When the request is not traced (tracing off, or work that
/// belongs to no request) `body` runs as it is: one task-local read, no span.
///
/// Attributes are the caller's and must hold no PHI. A thrown error marks the span as failed with
/// `error.type` (the Swift type's name) only: error messages can carry values, so none are recorded.
public enum RequestTracing {
    public static func span<T>(_ name: String, kind: SpanKind = .internal,
                               attributes: @autoclosure () -> SpanAttributes = [:],
                               isolation: isolated (any Actor)? = #isolation,
                               _ body: () async throws -> T) async throws -> T {
        guard let context = ServiceContext.current, let tracer = context.requestTracer else { return try await body() }
        let span = tracer.startAnySpan(name, context: context, ofKind: kind)
        span.attributes = attributes()
        defer { span.end() }
        do {
            return try await ServiceContext.$current.withValue(span.context) { try await body() }
        } catch {
            failed(span, error)
            throw error
        }
    }

    /// Marks `span` as failed, naming only the error's type.
    public static func failed(_ span: any Span, _ error: any Error) {
        span.attributes["error.type"] = String(describing: type(of: error))
        span.setStatus(SpanStatus(code: .error))
    }

    /// Whether the current task is part of a traced request.
    public static var isTracing: Bool { ServiceContext.current?.requestTracer != nil }
}
