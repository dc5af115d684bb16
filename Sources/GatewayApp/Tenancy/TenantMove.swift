import FHIRModels
import Foundation
import GatewayConfig
import GatewayStore
import Logging

/// Moves a tenant to another store (`fhir-gateway tenants move SLUG --to STORE`):
/// 1. copy every row of the tenant from a consistent snapshot of its store (reads and writes go on);
/// 2. pause the tenant's writes (503 with Retry-After) and copy the lab results written since;
/// 3. holding the target's audit chain lock, switch the tenant to the target, seal the source's
///    chain and copy its tail, so the chain goes on unbroken in the target;
/// 4. copy any write that landed meanwhile, compare every table's counts, resume writes, verify the chain;
/// 5. remove the tenant's rows from the old store.
/// Reads are served throughout: from the old store until the switch reaches a replica, then from the new.
public struct TenantMove: Sendable {
    public struct Step: Sendable {
        public let name: String
        public let detail: String
    }

    let registry: TenantRegistry
    let configuration: GatewayConfiguration
    let logger: Logger

    public init(registry: TenantRegistry, configuration: GatewayConfiguration, logger: Logger) {
        self.registry = registry
        self.configuration = configuration
        self.logger = logger
    }

    /// How long replicas take to see a registry change: two polls and a second for requests in flight.
    var propagation: Duration { .milliseconds(2 * configuration.server.registryPollMilliseconds + 1000) }

    public func run(slug: String, to targetName: String, actor: TenantRegistry.Actor,
                    progress: @Sendable (Step) -> Void = { _ in }) async throws {
        guard let tenant = try await registry.get(slug) else { throw TenantRegistry.Failure.notFound }
        let sourceName = tenant.store
        guard sourceName != targetName else { throw TenantRegistry.Failure.conflict("the tenant is already in store '\(targetName)'") }
        let stores = configuration.allStores
        guard let target = stores[targetName] else { throw TenantRegistry.Failure.invalid(field: "to", problem: "no store '\(targetName)' is configured") }
        guard case .postgres(_, let sourceOwner?)? = stores[sourceName], case .postgres(_, let targetOwner?) = target else {
            throw TenantRegistry.Failure.conflict("both stores must be PostgreSQL with a migration_url (the schema owner copies the rows)")
        }
        guard let sourceRepository = registry.stores[sourceName], let targetRepository = registry.stores[targetName] else {
            throw TenantRegistry.Failure.conflict("both stores must be open")
        }
        try await targetRepository.migrate()
        guard let tenantID = try await sourceRepository.hmsTenantIDs(slugs: [slug])[slug] else {
            throw TenantRegistry.Failure.conflict("the HMS of store '\(sourceName)' has no tenant '\(slug)'")
        }
        let mover = try TenantMover(sourceURL: sourceOwner, targetURL: targetOwner, tenantID: tenantID, logger: logger)
        try await mover.requireEmptyTarget()

        let snapshot: TenantMover.Snapshot
        do {
            snapshot = try await mover.copySnapshot()
            progress(Step(name: "snapshot", detail: "\(snapshot.rows) rows copied from a consistent snapshot of '\(sourceName)'"))
            _ = try await registry.patch(slug, changes: .object(["writes_paused": .bool(true)]), actor: actor)
            try await Task.sleep(for: propagation)
            let written = try await mover.copyWrites(since: snapshot.taken)
            progress(Step(name: "paused", detail: "writes paused; \(written) rows written since the snapshot copied"))
        } catch {
            // Nothing switched yet: the tenant stays where it was, its writes resume, the partial copy goes.
            _ = try? await registry.patch(slug, changes: .object(["writes_paused": .null]), actor: actor)
            try? await mover.removeFromTarget()
            throw error
        }

        let propagation = self.propagation
        let registry = self.registry
        let tail = try await mover.copyAuditTail(after: snapshot.auditSequence) {
            _ = try await registry.patch(slug, changes: .object(["store": .string(targetName)]), actor: actor, movingStore: true)
            try await Task.sleep(for: propagation)
            try await sourceRepository.sealAudit(tenantID: tenantID)
        }
        progress(Step(name: "switched", detail: "tenant now in '\(targetName)'; \(tail) audit records chained in '\(sourceName)' since the snapshot copied"))
        let stragglers = try await mover.copyWrites(since: snapshot.taken)
        // Counted while writes are still paused, so both stores hold the same rows (audit records go on in the target).
        var problems: [String] = []
        for count in try await mover.counts() {
            let matches = count.table == "audit_events" ? count.target >= count.source : count.target == count.source
            if !matches { problems.append("\(count.table): \(count.source) in '\(sourceName)', \(count.target) in '\(targetName)'") }
        }
        _ = try await registry.patch(slug, changes: .object(["writes_paused": .null]), actor: actor)
        progress(Step(name: "resumed", detail: "writes resumed (\(stragglers) rows rechecked)"))
        if let head = try await mover.sourceHead(), try await mover.targetHash(sequence: head.sequence) != head.hash {
            problems.append("audit record \(head.sequence) differs between the stores")
        }
        let chain = try await targetRepository.verifyAudit(tenantID: tenantID)
        if let broken = chain.firstBreak { problems.append("the audit chain in '\(targetName)' is broken at \(broken)") }
        guard problems.isEmpty else {
            throw TenantRegistry.Failure.conflict("verification failed, so the rows in '\(sourceName)' were kept: " + problems.joined(separator: "; "))
        }
        progress(Step(name: "verified", detail: "row counts match in every table; the audit chain (\(chain.count) records) verifies"))
        try await mover.removeFromSource()
        progress(Step(name: "cleaned", detail: "the tenant's rows were removed from '\(sourceName)'"))
    }
}
