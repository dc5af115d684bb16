import HTTPTypes
import Tracing
import W3CTraceContext

/// Reads trace context (`traceparent`, `tracestate`) from a request's headers for the tracer's propagator.
struct HTTPFieldsExtractor: Extractor {
    func extract(key: String, from carrier: HTTPFields) -> String? {
        switch key {
        case "traceparent": carrier[.traceparent]
        case "tracestate": carrier[.tracestate]
        default: HTTPField.Name(key).flatMap { carrier[$0] }
        }
    }
}

/// Collects what a tracer's propagator would send onward, to read the trace id back.
struct DictionaryInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
        carrier[key] = value
    }
}

enum TraceParent {
    /// The trace id (32 lowercase hex digits) of a W3C `traceparent` value; nil unless the value is valid.
    static func traceID(_ value: String?) -> String? {
        guard let value, value.utf8.count <= 256, let context = try? TraceContext(traceParentHeaderValue: value) else { return nil }
        return context.traceID.description
    }

    /// The trace id of `context`'s span, as the tracer would propagate it (nil if it propagates no W3C `traceparent`).
    static func traceID(of context: ServiceContext, tracer: any Tracer) -> String? {
        var headers: [String: String] = [:]
        tracer.inject(context, into: &headers, using: DictionaryInjector())
        return traceID(headers["traceparent"])
    }
}
