import Synchronization
import Tracing

/// A tracer for tests that keeps every finished span and speaks W3C `traceparent`, like the
/// OpenTelemetry tracer does, so tests can check names, parents, trace ids and attributes.
final class RecordingTracer: Tracer, Sendable {
    struct SpanIdentity: Sendable, Equatable {
        let traceID: String
        let spanID: String
    }

    enum IdentityKey: ServiceContextKey {
        typealias Value = SpanIdentity
    }

    struct Finished: Sendable {
        let name: String
        let kind: SpanKind
        let traceID: String
        let spanID: String
        let parentSpanID: String?
        /// Every attribute value as text.
        let attributes: [String: String]
        let failed: Bool
    }

    private let finishedSpans = Mutex<[Finished]>([])
    private let counter = Atomic<UInt64>(0)

    var finished: [Finished] { finishedSpans.withLock { $0 } }

    func record(_ span: Finished) { finishedSpans.withLock { $0.append(span) } }

    private func nextHex(width: Int) -> String {
        let value = counter.wrappingAdd(1, ordering: .relaxed).newValue
        let digits = String(value, radix: 16)
        return String(repeating: "a", count: max(0, width - digits.count)) + digits
    }

    func startSpan<Instant: TracerInstant>(_ operationName: String, context: @autoclosure () -> ServiceContext, ofKind kind: SpanKind,
                                           at instant: @autoclosure () -> Instant, function: String, file fileID: String, line: UInt) -> RecordingSpan {
        var context = context()
        let parent = context[IdentityKey.self]
        let identity = SpanIdentity(traceID: parent?.traceID ?? nextHex(width: 32), spanID: nextHex(width: 16))
        context[IdentityKey.self] = identity
        return RecordingSpan(name: operationName, kind: kind, context: context, identity: identity, parentSpanID: parent?.spanID, tracer: self)
    }

    func extract<Carrier, Extract: Extractor>(_ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract)
        where Extract.Carrier == Carrier {
        guard let value = extractor.extract(key: "traceparent", from: carrier) else { return }
        let parts = value.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "00", parts[1].count == 32, parts[2].count == 16 else { return }
        context[IdentityKey.self] = SpanIdentity(traceID: String(parts[1]), spanID: String(parts[2]))
    }

    func inject<Carrier, Inject: Injector>(_ context: ServiceContext, into carrier: inout Carrier, using injector: Inject)
        where Inject.Carrier == Carrier {
        guard let identity = context[IdentityKey.self] else { return }
        injector.inject("00-\(identity.traceID)-\(identity.spanID)-01", forKey: "traceparent", into: &carrier)
    }

    func forceFlush() {}
}

final class RecordingSpan: Span, Sendable {
    private struct State {
        var name: String
        var attributes: SpanAttributes = [:]
        var failed = false
        var ended = false
    }

    let context: ServiceContext
    let kind: SpanKind
    let identity: RecordingTracer.SpanIdentity
    let parentSpanID: String?
    private let tracer: RecordingTracer
    private let state: Mutex<State>

    init(name: String, kind: SpanKind, context: ServiceContext, identity: RecordingTracer.SpanIdentity, parentSpanID: String?, tracer: RecordingTracer) {
        self.context = context
        self.kind = kind
        self.identity = identity
        self.parentSpanID = parentSpanID
        self.tracer = tracer
        self.state = Mutex(State(name: name))
    }

    var operationName: String {
        get { state.withLock { $0.name } }
        set { state.withLock { $0.name = newValue } }
    }

    var attributes: SpanAttributes {
        get { state.withLock { $0.attributes } }
        set { state.withLock { $0.attributes = newValue } }
    }

    var isRecording: Bool { state.withLock { !$0.ended } }

    func setStatus(_ status: SpanStatus) {
        if status.code == .error { state.withLock { $0.failed = true } }
    }

    func addEvent(_ event: SpanEvent) {}

    func recordError<Instant: TracerInstant>(_ error: any Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant) {
        state.withLock { $0.failed = true }
    }

    func addLink(_ link: SpanLink) {}

    func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        let finished: RecordingTracer.Finished? = state.withLock { state in
            guard !state.ended else { return nil }
            state.ended = true
            var texts: [String: String] = [:]
            state.attributes.forEach { key, value in texts[key] = Self.text(value) }
            return RecordingTracer.Finished(name: state.name, kind: kind, traceID: identity.traceID, spanID: identity.spanID,
                                            parentSpanID: parentSpanID, attributes: texts, failed: state.failed)
        }
        if let finished { tracer.record(finished) }
    }

    static func text(_ value: SpanAttribute) -> String {
        switch value {
        case .string(let text): text
        case .int64(let number): String(number)
        case .int32(let number): String(number)
        case .bool(let flag): String(flag)
        case .double(let number): String(number)
        case .stringArray(let texts): texts.joined(separator: ",")
        default: "\(value)"
        }
    }
}
