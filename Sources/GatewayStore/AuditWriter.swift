import Synchronization

/// Group commit for audit records: requests wait until their record is durably chained, and
/// records that arrive while a batch is being written go together in the next one.
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
            if startFlushing { Task { await self.flush() } }
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
            var byTenant: [String: [HMSRepository.AuditRecord]] = [:]
            var order: [String] = []
            for item in batch {
                if byTenant[item.record.tenantID] == nil { order.append(item.record.tenantID) }
                byTenant[item.record.tenantID, default: []].append(item.record)
            }
            // Tenants in a stable order, so two replicas flushing the same tenants cannot deadlock.
            let batches = order.sorted().map { (tenantID: $0, records: byTenant[$0] ?? []) }
            do {
                try await repository.appendAudit(batches)
                for item in batch { item.continuation.resume() }
            } catch {
                for item in batch { item.continuation.resume(throwing: error) }
            }
        }
    }
}
