import Foundation

extension ConfigurationLoader {
    static let backendClientKeys: Set<String> = ["client_id", "name", "jwks_url", "jwks", "scopes"]

    /// `backend_clients`: at most ``BackendClient/maximumPerTenant`` clients with unique ids, each
    /// with `jwks_url` or an inline `jwks`, and `system/` resource scopes.
    static func parseBackendClients(_ value: Any?, at path: String) throws(ConfigurationError) -> [BackendClient] {
        guard let value, !(value is NSNull) else { return [] }
        guard let list = value as? [Any] else { throw ConfigurationError(field: path, "expected a list of clients") }
        guard list.count <= BackendClient.maximumPerTenant else {
            throw ConfigurationError(field: path, "at most \(BackendClient.maximumPerTenant) clients")
        }
        var clients: [BackendClient] = []
        for (index, item) in list.enumerated() {
            let client = try parseBackendClient(item, at: "\(path)[\(index)]")
            if clients.contains(where: { $0.clientID == client.clientID }) {
                throw ConfigurationError(field: "\(path)[\(index)].client_id", "'\(client.clientID)' is registered twice")
            }
            clients.append(client)
        }
        return clients
    }

    private static func parseBackendClient(_ value: Any, at path: String) throws(ConfigurationError) -> BackendClient {
        guard let node = value as? [String: Any] else { throw ConfigurationError(field: path, "expected a mapping") }
        try checkKeys(node, allowed: backendClientKeys, at: path)
        guard let clientID = try string(node["client_id"], at: "\(path).client_id"), BackendClient.isValidClientID(clientID) else {
            throw ConfigurationError(field: "\(path).client_id", "is required, and must be 1-\(BackendClient.maximumIDBytes) letters, digits, '-', '.', '_' or '~'")
        }
        let name = try string(node["name"], at: "\(path).name")
        if let name, !(1...256).contains(name.utf8.count) || name.utf8.contains(0) {
            throw ConfigurationError(field: "\(path).name", "must be 1-256 characters")
        }
        let url = try string(node["jwks_url"], at: "\(path).jwks_url")
        let inline = node["jwks"].flatMap { $0 is NSNull ? nil : $0 }
        let keys: BackendClient.Keys
        switch (url, inline) {
        case (let url?, nil):
            guard BackendClient.isAcceptableKeySetURL(url) else {
                throw ConfigurationError(field: "\(path).jwks_url", "must be an https URL (http only to a loopback host)")
            }
            keys = .url(url)
        case (nil, let set?):
            guard let object = set as? [String: Any], let entries = object["keys"] as? [Any], !entries.isEmpty, entries.count <= 20 else {
                throw ConfigurationError(field: "\(path).jwks", "must be a JSON Web Key Set: an object with a keys array of 1-20 keys")
            }
            keys = .inline(ConfigurationValue.jsonText(object))
        case (nil, nil): throw ConfigurationError(field: "\(path).jwks_url", "a client needs jwks_url or jwks")
        default: throw ConfigurationError(field: "\(path).jwks_url", "give one of jwks_url and jwks")
        }
        guard let list = node["scopes"] as? [Any], !list.isEmpty, list.count <= BackendClient.maximumScopes else {
            throw ConfigurationError(field: "\(path).scopes", "expected a list of 1-\(BackendClient.maximumScopes) system/ scopes")
        }
        var scopes: [String] = []
        for (index, item) in list.enumerated() {
            guard let scope = item as? String, scope.utf8.count <= 512, let grant = ScopeGrant.parse(scope), grant.context == .system else {
                throw ConfigurationError(field: "\(path).scopes[\(index)]", "must be a system/ resource scope such as system/Patient.rs or system/*.read")
            }
            if !scopes.contains(scope) { scopes.append(scope) }
        }
        return BackendClient(clientID: clientID, name: name, keys: keys, scopes: scopes)
    }
}
