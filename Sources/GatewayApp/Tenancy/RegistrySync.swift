import Foundation
import GatewayConfig
import Logging
import ServiceLifecycle

/// Keeps this process's tenants current: reads the registry's changes every
/// `server.registry_poll_milliseconds`, looks up HMS ids of tenants the HMS did not have yet, and
/// watches business associate agreements (warning 30 days before one ends).
struct RegistrySync: Service {
    let directory: TenantDirectory
    let metrics: GatewayMetrics
    let interval: Duration
    let logger: Logger

    /// Polls between HMS id look-ups and between agreement checks.
    static let resolveEvery = 20
    static let agreementEvery = 600

    /// Returns only at shutdown: a service that ends makes the service group stop the whole
    /// gateway, so a failed read (whatever it throws, cancellation included) is logged and retried.
    func run() async throws {
        await cancelWhenGracefulShutdownQuietly {
            checkAgreements()
            var polls = 0
            var failing = false
            while !Task.isCancelled {
                do { try await Task.sleep(for: interval) } catch { return }
                polls &+= 1
                do {
                    try await directory.refresh()
                    if polls % Self.resolveEvery == 0 { try await directory.resolveMissingTenantIDs() }
                    if failing { logger.notice("tenant registry readable again") }
                    failing = false
                } catch {
                    if Task.isCancelled { return }
                    if !failing { logger.warning("cannot read the tenant registry; tenants keep their current settings",
                                                 metadata: ["error.type": "\(type(of: error))"]) }
                    failing = true
                }
                if polls % Self.agreementEvery == 0 { checkAgreements() }
            }
        }
    }

    private func cancelWhenGracefulShutdownQuietly(_ body: @escaping @Sendable () async -> Void) async {
        try? await cancelWhenGracefulShutdown { await body() }
    }

    /// Logs tenants whose agreement ends within 30 days or is not in force, and sets the gauges.
    func checkAgreements(now: Date = Date()) {
        var expiring: [String] = []
        var missing: [String] = []
        let tenants = directory.all
        for tenant in tenants where tenant.configuration.status == .active {
            let slug = tenant.configuration.slug
            switch tenant.configuration.baa?.standing(at: now) {
            case .inForce(let daysLeft?)? where daysLeft < BusinessAssociateAgreement.warningDays: expiring.append("\(slug) (\(daysLeft) days)")
            case .inForce?: break
            default: missing.append(slug)
            }
        }
        // One line each, naming at most 50 tenants: 10,000 tenants must not mean 10,000 lines.
        if !expiring.isEmpty {
            logger.warning("business associate agreements end within 30 days",
                           metadata: ["count": "\(expiring.count)", "tenants": "\(expiring.sorted().prefix(50).joined(separator: ", "))"])
        }
        if !missing.isEmpty {
            logger.warning("tenants without a business associate agreement in force: their PHI routes answer 403",
                           metadata: ["count": "\(missing.count)", "tenants": "\(missing.sorted().prefix(50).joined(separator: ", "))"])
        }
        metrics.tenants(count: tenants.count, agreementsExpiring: expiring.count, agreementsNotInForce: missing.count)
    }
}
