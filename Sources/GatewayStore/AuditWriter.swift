import Synchronization
import Tracing

/// Group commit for audit records: requests wait until their record is durably stored, and
/// records that arrive while a batch is being written go together in the next one. Chaining
/// happens after, off the request's path (``AuditSealer``).
public final class AuditWriter: Sendable {
    private struct Pending {
        let record: HMSRepository.AuditRecord
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var pending: [Pending] = []
        var flushing = false
    }

    private let repository: HMSRepository
    private let state = Mutex(State())

    public init(repository: HMSRepository) {
        self.repository = repository
    }

    /// Returns once the record is stored; throws if it could not be (the caller must not serve the data).
    public func append(_ record: HMSRepository.AuditRecord) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let startFlushing = state.withLock { state -> Bool in
                state.pending.append(Pending(record: record, continuation: continuation))
                if state.flushing { return false }
                state.flushing = true
                return true
            }
            // The batch serves whichever requests are waiting, so it is not part of the trace of the
            // request that happened to start it: its statements run outside any request's context.
            if startFlushing { Task { await ServiceContext.$current.withValue(nil) { await self.flush() } } }
        }
    }

    private func flush() async {
        while true {
            let batch = state.withLock { state -> [Pending] in
                let batch = state.pending
                state.pending = []
                if batch.isEmpty { state.flushing = false }
                return batch
            }
            if batch.isEmpty { return }
            do {
                try await repository.enqueueAudit(batch.map(\.record))
                for item in batch { item.continuation.resume() }
            } catch {
                for item in batch { item.continuation.resume(throwing: error) }
            }
        }
    }
}
