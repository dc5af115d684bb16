import Logging
import Synchronization

/// Chains waiting audit records into each tenant's trail, in the background after requests and on
/// demand before the trail is read. One seal per tenant runs at a time in this process; across
/// processes the tenant's chain lock orders them.
final class AuditSealer: Sendable {
    private let backend: any DatabaseBackend
    private let logger: Logger
    /// Tenants with a background seal running; true when more records arrived meanwhile.
    private let running = Mutex<[String: Bool]>([:])

    /// Lets records arrive before a background seal, so one transaction chains many: with thousands
    /// of tenants each sees few requests a second, and sealing every quarter second halved the
    /// throughput of reads spread over 10,000 tenants (BENCHMARKS.md). A read of the trail seals at
    /// once, whatever this delay.
    static let gatherDelay: Duration = .seconds(2)
    static let retryDelays: [Duration] = [.milliseconds(200), .seconds(1), .seconds(5)]
    /// Background seals running at once. Thousands of tenants whose gathering windows end together
    /// would otherwise take the whole connection pool in one burst, and requests would wait behind
    /// them (the p99 of reads over 10,000 tenants). Seals before a read of the trail do not wait here.
    static let backgroundConcurrency = 4
    private let background = AsyncSemaphore(permits: AuditSealer.backgroundConcurrency)

    init(backend: any DatabaseBackend, logger: Logger) {
        self.backend = backend
        self.logger = logger
    }

    /// Chains every record of the tenant waiting now.
    func seal(_ tenantID: String) async throws {
        while try await HMSRepository.sealChunk(tenantID: tenantID, backend: backend) == HMSRepository.sealBatchSize {}
    }

    /// Seals the tenant soon, in the background. Records left by a failure stay waiting, durable,
    /// until the next seal of the tenant (a request, a read of the trail, or the start-up sweep).
    func schedule(_ tenantID: String) {
        let start = running.withLock { running in
            if running[tenantID] != nil {
                running[tenantID] = true
                return false
            }
            running[tenantID] = false
            return true
        }
        guard start else { return }
        Task { await self.sealUntilQuiet(tenantID) }
    }

    private func sealUntilQuiet(_ tenantID: String) async {
        var failures = 0
        while true {
            try? await Task.sleep(for: Self.gatherDelay)
            do {
                try await background.withPermit { try await self.seal(tenantID) }
                failures = 0
            } catch {
                if failures == Self.retryDelays.count {
                    logger.error("audit records wait to be chained", metadata: ["tenant_id": "\(tenantID)", "error": "\(String(reflecting: type(of: error)))"])
                    running.withLock { _ = $0.removeValue(forKey: tenantID) }
                    return
                }
                try? await Task.sleep(for: Self.retryDelays[failures])
                failures += 1
                continue
            }
            let again = running.withLock { running -> Bool in
                if running[tenantID] == true {
                    running[tenantID] = false
                    return true
                }
                running.removeValue(forKey: tenantID)
                return false
            }
            if !again { return }
        }
    }
}
