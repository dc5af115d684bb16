import FHIRModels
import Foundation
import GatewayConfig
import GatewayStore
import Logging
import Synchronization

/// The stored-resource quota of each tenant (lab results it posted). The count is read from the
/// store at most every ``refreshSeconds`` per tenant and kept up to date with this process's own
/// creates in between, so a write costs no extra query. Over the soft limit a write is stored,
/// logged and counted; at the hard limit creates are refused (reads and updates go on).
/// With several replicas the hard limit can be passed by the creates of one refresh period.
final class StorageQuota: Sendable {
    static let refreshSeconds: Int64 = 30

    private struct Usage {
        var count: Int64
        var readAt: Int64
        var warnedAt: Int64 = 0
    }

    private let usage = Mutex<[String: Usage]>([:])
    private let metrics: GatewayMetrics
    private let logger: Logger

    init(metrics: GatewayMetrics, logger: Logger) {
        self.metrics = metrics
        self.logger = logger
    }

    /// Checks that `creating` more resources fit the tenant's hard limit, and counts them in.
    func admit(_ tenant: ResolvedTenant, tenantID: String, creating: Int, now: Int64 = Int64(Date().timeIntervalSince1970)) async throws {
        guard creating > 0 else { return }
        let slug = tenant.configuration.slug
        let soft = tenant.limits.storedResourcesSoft.map(Int64.init)
        let hard = tenant.limits.storedResourcesHard.map(Int64.init)
        guard soft != nil || hard != nil else { return }
        var current = usage.withLock { $0[slug] }
        if current == nil || now - current!.readAt >= Self.refreshSeconds {
            let count = try await tenant.repository.storedResourceCount(tenantID: tenantID)
            current = usage.withLock { usage in
                let fresh = Usage(count: count, readAt: now, warnedAt: usage[slug]?.warnedAt ?? 0)
                usage[slug] = fresh
                return fresh
            }
        }
        let after = (current?.count ?? 0) + Int64(creating)
        if let hard, after > hard {
            metrics.storageQuota(tenant: slug, level: "hard")
            logger.warning("storage quota reached: creates refused", metadata: ["tenant": "\(slug)", "stored": "\(current?.count ?? 0)", "hard_limit": "\(hard)"])
            throw FHIRError(status: 403, code: .businessRule,
                            "the tenant's storage quota (\(hard) stored resources) is reached: new resources are refused until the operator raises it or resources are removed; reads and updates go on")
        }
        let warn = usage.withLock { usage -> Bool in
            usage[slug]?.count += Int64(creating)
            guard let soft, after > soft, now - (usage[slug]?.warnedAt ?? 0) >= 60 else { return false }
            usage[slug]?.warnedAt = now
            return true
        }
        if let soft, after > soft { metrics.storageQuota(tenant: slug, level: "soft") }
        if warn, let soft {
            logger.warning("storage quota: over the soft limit", metadata: ["tenant": "\(slug)", "stored": "\(after)", "soft_limit": "\(soft)",
                                                                               "hard_limit": "\(hard.map(String.init) ?? "none")"])
        }
    }

    /// Forgets what was counted for the tenant (its quota or data changed).
    func forget(slug: String) { _ = usage.withLock { $0.removeValue(forKey: slug) } }
}
