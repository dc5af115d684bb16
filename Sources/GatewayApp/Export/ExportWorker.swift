import BulkExport
import Foundation
import GatewayStore
import Logging
import ServiceLifecycle
import Synchronization

/// Runs export jobs on this replica: claims queued jobs (and jobs whose replica stopped renewing
/// its lease) from every store, up to `export.workers` at once, and deletes expired files.
final class ExportWorker: Service, Sendable {
    let vault: ExportVault
    private let services: GatewayServices
    /// This process's name on the jobs it holds.
    let owner = "replica-" + UUID().uuidString.lowercased()
    private let running = Atomic<Int>(0)
    private let woken = Atomic<Bool>(false)

    init(services: GatewayServices, vault: ExportVault) {
        self.services = services
        self.vault = vault
    }

    /// A job was queued here: look for it now rather than at the next tick.
    func wake() { woken.store(true, ordering: .relaxed) }

    func run() async throws {
        let settings = services.configuration.export
        let runner = ExportJobRunner(services: services, vault: vault, owner: owner)
        try await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                var lastClaim = Date.distantPast
                var lastSweep = Date.distantPast
                while !Task.isCancelled {
                    if self.woken.exchange(false, ordering: .relaxed) || Date().timeIntervalSince(lastClaim) >= 1 {
                        lastClaim = Date()
                        for store in self.services.stores.values.sorted(by: { $0.name < $1.name }) {
                            while self.running.load(ordering: .relaxed) < settings.workers, !Task.isCancelled {
                                guard let claimed = try? await store.repository.claimExportJob(owner: self.owner, leaseSeconds: settings.leaseSeconds) else { break }
                                self.running.wrappingAdd(1, ordering: .relaxed)
                                group.addTask {
                                    await runner.run(jobID: claimed.jobID, tenantID: claimed.tenantID, repository: store.repository)
                                    self.running.wrappingSubtract(1, ordering: .relaxed)
                                    self.wake()
                                }
                            }
                        }
                    }
                    if Date().timeIntervalSince(lastSweep) >= 60 {
                        lastSweep = Date()
                        await self.removeExpired()
                    }
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
        }
    }

    /// Files of expired and cancelled jobs go first, then the jobs' rows.
    func removeExpired() async {
        for store in services.stores.values {
            guard let expired = try? await store.repository.expiredExportJobs() else { continue }
            for job in expired {
                do {
                    try vault.storage.remove(prefix: ExportVault.folder(tenantID: job.tenantID, jobID: job.jobID))
                    try await store.repository.removeExportJob(id: job.jobID, tenantID: job.tenantID)
                } catch {
                    services.logger.warning("expired export files not removed yet", metadata: ["export.job": .string(job.jobID)])
                }
            }
        }
    }
}
