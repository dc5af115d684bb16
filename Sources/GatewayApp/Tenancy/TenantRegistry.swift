import BulkExport
import Crypto
import FHIRModels
import Foundation
import GatewayAuth
import GatewayConfig
import GatewayStore
import Synchronization

/// The tenant operations the admin API and the `tenants` command share: every change is checked
/// by the configuration's own tenant rules, written under the registry lock, and recorded in the
/// admin audit chain in the same transaction.
public struct TenantRegistry: Sendable {
    public enum Outcome: String, Sendable { case created, changed, unchanged }

    /// Who asks (the admin token's subject, or the operator running the CLI).
    public struct Actor: Sendable {
        public let subject: String
        public let clientID: String?
        public let address: String?

        public init(subject: String, clientID: String? = nil, address: String? = nil) {
            self.subject = subject
            self.clientID = clientID
            self.address = address
        }
    }

    public enum Failure: Error, Sendable, Equatable {
        case notFound
        case invalid(field: String, problem: String)
        /// The request conflicts with the tenant's state (data remains, for a delete).
        case conflict(String)
    }

    public struct Page: Sendable {
        public let tenants: [TenantConfiguration]
        /// The last slug of the page when more may follow.
        public let next: String?
    }

    /// The shared store: the registry and the admin chain.
    let repository: HMSRepository
    let developmentIssuer: String
    /// Every configured store by name (`shared` included): where each tenant's rows are.
    let stores: [String: HMSRepository]
    /// Where export files are kept: a purge removes the tenant's folder too.
    let exportFiles: (any ExportFileStorage)?

    public init(repository: HMSRepository, developmentIssuer: String, stores: [String: HMSRepository] = [:],
                exportFiles: (any ExportFileStorage)? = nil) {
        self.exportFiles = exportFiles
        self.repository = repository
        self.developmentIssuer = developmentIssuer
        self.stores = stores.merging([TenantConfiguration.sharedStore: repository]) { _, shared in shared }
    }

    func decode(_ entry: HMSRepository.RegistryEntry) -> TenantConfiguration? {
        guard !entry.deleted, let json = try? JSONParser.parse(entry.document) else { return nil }
        return try? TenantDocument.parse(json, slug: entry.slug, developmentIssuer: developmentIssuer, allowFiles: true)
    }

    public func get(_ slug: String) async throws -> TenantConfiguration? {
        guard TenantConfiguration.isValidSlug(slug), let entry = try await repository.registryEntry(slug: slug) else { return nil }
        return decode(entry)
    }

    public func list(after slug: String?, tier: TenantConfiguration.Tier?, status: TenantConfiguration.Status?, count: Int) async throws -> Page {
        let entries = try await repository.registryPage(after: slug, tier: tier?.rawValue, status: status?.rawValue, limit: count + 1)
        let tenants = entries.prefix(count).compactMap(decode)
        return Page(tenants: tenants, next: entries.count > count ? entries.prefix(count).last?.slug : nil)
    }

    /// Creates or replaces the tenant with `document` (the admin API's PUT body).
    public func put(_ slug: String, document: JSON, actor: Actor) async throws -> (Outcome, TenantConfiguration) {
        let tenant = try await parse(document, slug: slug)
        return try await write(tenant, actor: actor, action: "tenant-put")
    }

    /// Changes the fields named in `changes` (a JSON merge patch, RFC 7396: null removes a field).
    /// `movingStore` is for ``TenantMove`` only: anyone else changing a tenant's store would point
    /// it at a store without its data.
    public func patch(_ slug: String, changes: JSON, actor: Actor, movingStore: Bool = false) async throws -> (Outcome, TenantConfiguration) {
        guard case .object(let patch) = changes else { throw Failure.invalid(field: "(body)", problem: "expected a JSON object") }
        guard let current = try await get(slug) else { throw Failure.notFound }
        let merged = Self.mergePatch(TenantDocument.render(current), .object(patch))
        let tenant = try await parse(merged, slug: slug)
        return try await write(tenant, actor: actor, action: movingStore ? "tenant-move" : "tenant-patch", mustExist: true, movingStore: movingStore)
    }

    public func setStatus(_ slug: String, _ status: TenantConfiguration.Status, actor: Actor) async throws -> (Outcome, TenantConfiguration) {
        guard var tenant = try await get(slug) else { throw Failure.notFound }
        tenant.status = status
        return try await write(tenant, actor: actor, action: status == .active ? "tenant-resume" : "tenant-suspend", mustExist: true)
    }

    /// Offboards the tenant. Refused while the gateway holds rows of it (lab results, audit trail)
    /// unless `purge`, which removes them in the same transaction; the HMS's own records are the HMS's.
    public func delete(_ slug: String, purge: Bool, actor: Actor) async throws -> (storedResources: Int64, auditRecords: Int64) {
        guard let tenant = try await get(slug) else { throw Failure.notFound }
        guard let store = stores[tenant.store] else { throw Failure.conflict("the tenant's store '\(tenant.store)' is not configured here") }
        let tenantID = try await store.hmsTenantIDs(slugs: [slug])[slug]
        var counts: (storedResources: Int64, auditRecords: Int64) = (0, 0)
        if let tenantID {
            counts = try await store.gatewayRowCounts(tenantID: tenantID)
            if !purge, counts.storedResources + counts.auditRecords > 0 {
                throw Failure.conflict("the gateway still holds \(counts.storedResources) stored resources and \(counts.auditRecords) audit records of this tenant; export what must be kept, then repeat with ?purge=true")
            }
        }
        let before = TenantDocument.render(tenant).serializedString
        let removed = counts
        // A dedicated store is purged in its own transaction first; the shared store's with the delete.
        let dedicated = tenant.store != TenantConfiguration.sharedStore
        if purge, dedicated, let tenantID { try await store.purgeTenantRows(tenantID: tenantID) }
        let audit = AdminAuditEvent.record(action: "tenant-delete", actor: actor, slug: slug, before: before, after: nil,
                                           note: purge ? "purged \(removed.storedResources) stored resources and \(removed.auditRecords) audit records" : nil)
        let written = try await repository.updateRegistry(slug: slug) { current in
            guard let current, !current.deleted else { return nil }
            return HMSRepository.RegistryUpdate(document: current.document, tier: tenant.tier.rawValue, status: tenant.status.rawValue,
                                                deleted: true, configurationDigest: current.configurationDigest,
                                                purgeTenantID: purge && !dedicated ? tenantID : nil, audit: audit)
        }
        guard written?.deleted == true else { throw Failure.notFound }
        // The rows of its export jobs went with the purge; their files go now (sealed under a key that is gone too).
        if purge, let tenantID { try? exportFiles?.remove(prefix: tenantID) }
        return counts
    }

    /// Applies the configuration file's tenants at start. A tenant is written when the registry
    /// lacks it or when its file entry changed since it was last applied; changes made through the
    /// admin API since then stay. Files named by `jwks_file` are read into the registry now.
    public func applyConfiguration(_ tenants: [TenantConfiguration], actor: Actor) async throws {
        var updates: [String: HMSRepository.RegistryUpdate] = [:]
        var rendered: [(TenantConfiguration, String)] = []
        for (index, configured) in tenants.enumerated() {
            var tenant = configured
            if case .file(let path) = tenant.keySource {
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw ConfigurationError(field: "tenants[\(index)].jwks_file", "cannot read '\(path)'")
                }
                guard let text = TenantDocument.canonicalKeySet([UInt8](data)) else {
                    throw ConfigurationError(field: "tenants[\(index)].jwks_file", "'\(path)' is not a JSON Web Key Set")
                }
                do { _ = try await TenantKeySet.parse(jwks: [UInt8](data)) } catch {
                    throw ConfigurationError(field: "tenants[\(index)].jwks_file", error.description)
                }
                tenant.keySource = .inline(text)
            }
            if let unusable = await Self.unusableClientKeys(tenant) {
                throw ConfigurationError(field: "tenants[\(index)].\(unusable.field)", unusable.problem)
            }
            rendered.append((tenant, TenantDocument.render(tenant).serializedString))
        }
        // Only entries that changed since they were last applied are built into updates (and audit
        // records): a restart with an unchanged file of 10,000 tenants costs one read.
        let applied = try await repository.configurationDigests()
        for (tenant, document) in rendered {
            let digest = Self.digest(document)
            guard applied[tenant.slug] != .some(digest) else { continue }
            updates[tenant.slug] = HMSRepository.RegistryUpdate(
                document: document, tier: tenant.tier.rawValue, status: tenant.status.rawValue, configurationDigest: digest,
                audit: AdminAuditEvent.record(action: "tenant-apply-configuration", actor: actor, slug: tenant.slug, before: nil, after: document, note: nil))
        }
        _ = try await repository.applyConfigurationEntries(updates)
    }

    func parse(_ document: JSON, slug: String) async throws -> TenantConfiguration {
        guard TenantConfiguration.isValidSlug(slug) else {
            throw Failure.invalid(field: "slug", problem: "must be 1-63 lowercase letters, digits or inner hyphens")
        }
        let tenant: TenantConfiguration
        do {
            tenant = try TenantDocument.parse(document, slug: slug, developmentIssuer: developmentIssuer, allowFiles: false)
        } catch {
            throw Failure.invalid(field: error.field, problem: error.problem)
        }
        guard stores[tenant.store] != nil else {
            throw Failure.invalid(field: "store", problem: "no store '\(tenant.store)' is configured (known: \(stores.keys.sorted().joined(separator: ", ")))")
        }
        // A key set the verifier could not use is refused here, not discovered at the first token.
        if case .inline(let text) = tenant.keySource {
            do { _ = try await TenantKeySet.parse(jwks: Array(text.utf8)) } catch {
                throw Failure.invalid(field: "jwks", problem: error.description)
            }
        }
        if let unusable = await Self.unusableClientKeys(tenant) { throw Failure.invalid(field: unusable.field, problem: unusable.problem) }
        return tenant
    }

    func write(_ tenant: TenantConfiguration, actor: Actor, action: String, mustExist: Bool = false,
                       movingStore: Bool = false) async throws -> (Outcome, TenantConfiguration) {
        let document = TenantDocument.render(tenant).serializedString
        let developmentIssuer = self.developmentIssuer
        let result = Mutex<Outcome>(.unchanged)
        let entry = try await repository.updateRegistry(slug: tenant.slug) { current in
            let live = current.flatMap { $0.deleted ? nil : $0 }
            if mustExist, live == nil { throw Failure.notFound }
            if !movingStore, let live, let json = try? JSONParser.parse(live.document), json["store"]?.stringValue ?? TenantConfiguration.sharedStore != tenant.store {
                throw Failure.conflict("a tenant changes store only by `fhir-gateway tenants move \(tenant.slug) --to \(tenant.store)`, which copies its data")
            }
            if let live, let json = try? JSONParser.parse(live.document),
               (try? TenantDocument.parse(json, slug: live.slug, developmentIssuer: developmentIssuer, allowFiles: true)) == tenant {
                result.withLock { $0 = .unchanged }
                return nil
            }
            result.withLock { $0 = live == nil ? .created : .changed }
            let audit = AdminAuditEvent.record(action: action, actor: actor, slug: tenant.slug, before: live?.document, after: document, note: nil)
            return HMSRepository.RegistryUpdate(document: document, tier: tenant.tier.rawValue, status: tenant.status.rawValue,
                                                configurationDigest: live?.configurationDigest, audit: audit)
        }
        guard let entry, !entry.deleted else { throw Failure.notFound }
        return (result.withLock { $0 }, decode(entry) ?? tenant)
    }

    /// The first backend client whose inline key set the verifier could not use, as a field and a problem.
    static func unusableClientKeys(_ tenant: TenantConfiguration) async -> (field: String, problem: String)? {
        for (index, client) in tenant.backendClients.enumerated() {
            guard case .inline(let text) = client.keys else { continue }
            do {
                let keys = try await TenantKeySet.parse(jwks: Array(text.utf8))
                if let kid = keys.ambiguousKeyIDs.sorted().first { return ("backend_clients[\(index)].jwks", "two keys have kid '\(kid)'") }
                if keys.keyIDs.isEmpty { return ("backend_clients[\(index)].jwks", "the key set has no signing key") }
            } catch {
                return ("backend_clients[\(index)].jwks", error.description)
            }
        }
        return nil
    }

    static func digest(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).map { String($0, radix: 16).leftPadded(2) }.joined()
    }

    /// RFC 7396: members of `patch` replace those of `target`, null removes, objects merge.
    static func mergePatch(_ target: JSON, _ patch: JSON) -> JSON {
        guard case .object(let changes) = patch else { return patch }
        var result = target.objectValue ?? JSONObject()
        for member in changes.members {
            if case .null = member.value {
                result[member.key] = nil
            } else {
                result[member.key] = mergePatch(result[member.key] ?? .null, member.value)
            }
        }
        return .object(result)
    }
}

private extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
