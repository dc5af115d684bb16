import FHIRModels
import GatewayConfig

/// Backend clients (SMART Backend Services) one at a time, for the `clients` command: each change
/// is a change of the tenant's document, checked by the same rules and audited like any other.
extension TenantRegistry {
    /// Registers `client` (a `backend_clients` entry) with the tenant; an id already registered is refused.
    public func addBackendClient(_ slug: String, client: JSON, actor: Actor) async throws -> TenantConfiguration {
        guard let current = try await get(slug) else { throw Failure.notFound }
        guard case .object(var document) = TenantDocument.render(current) else { throw Failure.notFound }
        document["backend_clients"] = .array(current.backendClients.map(TenantDocument.render) + [client])
        let tenant = try await parse(.object(document), slug: slug)
        return try await write(tenant, actor: actor, action: "backend-client-add", mustExist: true).1
    }

    public func removeBackendClient(_ slug: String, clientID: String, actor: Actor) async throws -> TenantConfiguration {
        guard var tenant = try await get(slug) else { throw Failure.notFound }
        guard let index = tenant.backendClients.firstIndex(where: { $0.clientID == clientID }) else {
            throw Failure.invalid(field: "client_id", problem: "no client '\(clientID)' is registered with this tenant")
        }
        tenant.backendClients.remove(at: index)
        return try await write(tenant, actor: actor, action: "backend-client-remove", mustExist: true).1
    }
}
