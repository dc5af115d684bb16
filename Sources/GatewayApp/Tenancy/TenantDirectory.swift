import FHIRModels
import Foundation
import GatewayAuth
import GatewayConfig
import GatewayStore
import HMSMapping
import Logging
import Synchronization

/// The tenants this process serves, as the registry holds them: read whole at start, then kept
/// current by reading the registry's changes (``refresh()``), so a change made through any replica
/// is in force here at the next poll.
final class TenantDirectory: Sendable {
    private struct State {
        var tenants: [String: ResolvedTenant] = [:]
        var revision: Int64 = 0
    }

    private let state = Mutex(State())
    private let configuration: GatewayConfiguration
    private let documents: TenantDocuments
    private let verifier: TokenVerifier
    /// The shared store, which holds the registry.
    private let repository: HMSRepository
    private let stores: [String: TenantStore]
    private let logger: Logger

    init(configuration: GatewayConfiguration, documents: TenantDocuments, verifier: TokenVerifier, repository: HMSRepository,
         stores: [String: TenantStore], logger: Logger) {
        self.configuration = configuration
        self.documents = documents
        self.verifier = verifier
        self.repository = repository
        self.stores = stores
        self.logger = logger
    }

    /// HMS tenant ids of `tenants`, each looked up in its own store.
    private func hmsTenantIDs(_ tenants: [TenantConfiguration]) async throws -> [String: String] {
        var found: [String: String] = [:]
        for (name, members) in Dictionary(grouping: tenants, by: \.store) {
            guard let store = stores[name] else { continue }
            found.merge(try await store.repository.hmsTenantIDs(slugs: members.map(\.slug))) { first, _ in first }
        }
        return found
    }

    subscript(slug: some StringProtocol) -> ResolvedTenant? { state.withLock { $0.tenants[String(slug)] } }

    var count: Int { state.withLock { $0.tenants.count } }
    var revision: Int64 { state.withLock { $0.revision } }
    var all: [ResolvedTenant] { state.withLock { Array($0.tenants.values) } }

    /// Reads the registry's changes since the last read and puts them in force.
    func refresh() async throws {
        var after = revision
        while true {
            let entries = try await repository.registryEntries(after: after, limit: 2_000)
            guard let last = entries.last?.revision else { return }
            await apply(entries)
            after = last
            if entries.count < 2_000 { return }
        }
    }

    /// Looks up HMS tenant ids again for tenants the HMS did not have yet.
    func resolveMissingTenantIDs() async throws {
        let missing = state.withLock { $0.tenants.values.filter { $0.hmsTenantID == nil }.map(\.configuration) }
        guard !missing.isEmpty else { return }
        let found = try await hmsTenantIDs(missing)
        guard !found.isEmpty else { return }
        state.withLock { state in
            for (slug, id) in found {
                guard let tenant = state.tenants[slug] else { continue }
                if let resolved = resolve(tenant.configuration, hmsTenantID: id) { state.tenants[slug] = resolved }
            }
        }
    }

    func apply(_ entries: [HMSRepository.RegistryEntry]) async {
        var changed: [String: TenantConfiguration] = [:]
        var removed: Set<String> = []
        for entry in entries {
            if entry.deleted {
                removed.insert(entry.slug)
                changed[entry.slug] = nil
                continue
            }
            do {
                let json = try JSONParser.parse(entry.document)
                changed[entry.slug] = try TenantDocument.parse(json, slug: entry.slug, developmentIssuer: configuration.developmentIssuer,
                                                               allowFiles: true)
                removed.remove(entry.slug)
            } catch {
                logger.error("registry entry cannot be read; the tenant keeps its previous settings", metadata: ["tenant": "\(entry.slug)"])
            }
        }
        let previous = state.withLock { state in changed.keys.map { (slug: $0, tenant: state.tenants[$0]) } }
        var ids: [String: String] = [:]
        let unresolved = previous.compactMap { slug, old in
            changed[slug].flatMap { old?.hmsTenantID == nil || old?.configuration.store != $0.store ? $0 : nil }
        }
        if !unresolved.isEmpty {
            do { ids = try await hmsTenantIDs(unresolved) } catch {
                logger.warning("cannot read HMS tenant ids; retried at the next poll")
            }
        }
        var resolved: [String: ResolvedTenant] = [:]
        for (slug, old) in previous {
            guard let tenant = changed[slug] else { continue }
            if old?.configuration.keySource != tenant.keySource || old == nil {
                do { try await verifier.install(realm: slug, keySource: tenant.keySource, fetchNow: false) } catch {
                    logger.error("tenant keys cannot be loaded; its tokens are refused", metadata: ["tenant": "\(slug)", "problem": "\(error.problem)"])
                    verifier.remove(realm: slug)
                }
            } else if old?.configuration != tenant {
                verifier.forgetTokens(of: slug)
            }
            verifier.retainClients(of: slug, Set(tenant.backendClients.map(\.clientID)))
            let sameStore = old?.configuration.store == tenant.store
            guard let tenantNow = resolve(tenant, hmsTenantID: ids[slug] ?? (sameStore ? old?.hmsTenantID : nil)) else {
                logger.error("tenant names a store this process has not configured; it is not served here", metadata: ["tenant": "\(slug)", "store": "\(tenant.store)"])
                removed.insert(slug)
                continue
            }
            resolved[slug] = tenantNow
            if old == nil, tenantNow.hmsTenantID == nil {
                logger.warning("tenant is in the registry but absent from the HMS tenants table; its data routes answer 503",
                               metadata: ["tenant": "\(slug)"])
            }
        }
        for slug in removed { verifier.remove(realm: slug) }
        let newest = entries.last?.revision ?? 0
        state.withLock { state in
            for slug in removed { state.tenants[slug] = nil }
            for (slug, tenant) in resolved { state.tenants[slug] = tenant }
            state.revision = max(state.revision, newest)
        }
        for slug in removed.union(resolved.keys) { documents.forget(slug) }
    }

    private func resolve(_ tenant: TenantConfiguration, hmsTenantID: String?) -> ResolvedTenant? {
        guard let store = stores[tenant.store] else { return nil }
        return ResolvedTenant(configuration: tenant, hmsTenantID: hmsTenantID, baseURL: "\(configuration.server.publicBaseURL)/\(tenant.slug)/r4",
                              mapping: MappingContext(slug: tenant.slug, profileSet: tenant.profileSet), documents: documents,
                              limits: configuration.limits(for: tenant), store: store)
    }
}
