import Synchronization

/// What one request did, filled in by each layer of the pipeline as it goes and read by the outer
/// layers once it is done (the log line, metrics and audit record). It travels in the request context.
final class RequestState: Sendable {
    private let record = Mutex(RequestRecord(requestID: "", method: ""))

    func update(_ body: (inout RequestRecord) -> Void) { record.withLock { body(&$0) } }

    var snapshot: RequestRecord { record.withLock { $0 } }
}
