import FHIRModels
import Foundation

/// A tenant as JSON: the admin API's body and answer, and the registry's stored form.
/// Parsing goes through the configuration file's own tenant rules, so both doors check the same.
public enum TenantDocument {
    /// The tenant in `json`, whose slug must be `slug` when the body names one.
    public static func parse(_ json: JSON, slug: String, developmentIssuer: String,
                             allowFiles: Bool = false) throws(ConfigurationError) -> TenantConfiguration {
        guard case .object(let object) = json else { throw ConfigurationError(field: "(body)", "expected a JSON object") }
        var node = ConfigurationValue.any(.object(object)) as? [String: Any] ?? [:]
        if let named = node["slug"] {
            guard (named as? String) == slug else { throw ConfigurationError(field: "slug", "must match the slug in the URL") }
        }
        node["slug"] = slug
        do {
            return try ConfigurationLoader.parseTenant(node, at: "tenant", developmentIssuer: developmentIssuer, allowFiles: allowFiles)
        } catch {
            // Fields are named as in the body: `limits.read.rate`, not `tenant.limits.read.rate`.
            throw ConfigurationError(field: error.field.hasPrefix("tenant.") ? String(error.field.dropFirst(7)) : error.field, error.problem)
        }
    }

    public static func render(_ tenant: TenantConfiguration) -> JSON {
        var document = JSONObject()
        document.append("slug", tenant.slug)
        document.append("name", tenant.name)
        document.append("tier", tenant.tier.rawValue)
        document.append("status", tenant.status.rawValue)
        switch tenant.keySource {
        case .development: document.append("issuer", "development")
        case .file(let path):
            document.append("issuer", tenant.issuer)
            document.append("jwks_file", path)
        case .url(let url):
            document.append("issuer", tenant.issuer)
            document.append("jwks_url", url)
        case .inline(let text):
            document.append("issuer", tenant.issuer)
            document.append("jwks", (try? JSONParser.parse(text)) ?? .null)
        }
        document.append("audience", tenant.audience)
        document.append("tenant_claim", tenant.tenantClaim)
        document.append("resource_types", .array(tenant.resourceTypes.map(JSON.string)))
        document.append("profile_set", tenant.profileSet.rawValue)
        document.append("authorization_endpoint", tenant.authorizationEndpoint)
        document.append("token_endpoint", tenant.tokenEndpoint)
        document.append("cors_allowed_origins", .array(tenant.corsAllowedOrigins.map(JSON.string)))
        document.append("hospital_claim", tenant.hospitalClaim)
        document.append("store", tenant.store)
        if tenant.writesPaused { document.append("writes_paused", .bool(true)) }
        if !tenant.limits.isEmpty { document.append("limits", render(tenant.limits)) }
        if !tenant.backendClients.isEmpty { document.append("backend_clients", .array(tenant.backendClients.map(render))) }
        if let baa = tenant.baa {
            var agreement = JSONObject()
            agreement.append("version", baa.version)
            agreement.append("signed", baa.signed)
            agreement.append("expires", baa.expires)
            document.append("baa", .object(agreement))
        }
        return .object(document)
    }

    public static func render(_ client: BackendClient) -> JSON {
        var object = JSONObject()
        object.append("client_id", client.clientID)
        object.append("name", client.name)
        switch client.keys {
        case .url(let url): object.append("jwks_url", url)
        case .inline(let text): object.append("jwks", (try? JSONParser.parse(text)) ?? .null)
        }
        object.append("scopes", .array(client.scopes.map(JSON.string)))
        return .object(object)
    }

    /// A JSON Web Key Set's text in the registry's form (keys sorted), so the same set always
    /// gives the same document; nil when `bytes` is not a JSON object with a `keys` array.
    public static func canonicalKeySet(_ bytes: [UInt8]) -> String? {
        guard let json = try? JSONParser.parse(bytes), let object = ConfigurationValue.any(json) as? [String: Any],
              object["keys"] is [Any] else { return nil }
        return ConfigurationValue.jsonText(object)
    }

    public static func render(_ limits: TenantLimits) -> JSON {
        var object = JSONObject()
        for rateClass in TenantLimits.RateClass.allCases {
            guard let rate = limits.rate(rateClass) else { continue }
            object.append(rateClass.rawValue, .object(["rate": ConfigurationValue.number(rate.rate), "burst": .int(rate.burst)]))
        }
        object.append("concurrent_requests", limits.concurrentRequests.map(JSON.int))
        object.append("database_connections", limits.databaseConnections.map(JSON.int))
        object.append("export_jobs", limits.exportJobs.map(JSON.int))
        object.append("export_jobs_per_client", limits.exportJobsPerClient.map(JSON.int))
        if limits.storedResourcesSoft != nil || limits.storedResourcesHard != nil {
            var storage = JSONObject()
            storage.append("soft", limits.storedResourcesSoft.map(JSON.int))
            storage.append("hard", limits.storedResourcesHard.map(JSON.int))
            object.append("stored_resources", .object(storage))
        }
        return .object(object)
    }
}

/// Conversions between the configuration loader's `Any` trees (from YAML) and ``JSON``.
enum ConfigurationValue {
    static func any(_ json: JSON) -> Any {
        switch json {
        case .null: return NSNull()
        case .bool(let flag): return flag
        case .number(let text):
            if let integer = Int(text) { return integer }
            return Double(text).flatMap { $0.isFinite ? $0 : nil } ?? text as Any
        case .string(let text): return text
        case .array(let items): return items.map(any)
        case .object(let object):
            var dictionary: [String: Any] = [:]
            for member in object.members { dictionary[member.key] = any(member.value) }
            return dictionary
        }
    }

    /// `value` as JSON, object keys sorted so equal trees give equal text.
    static func json(_ value: Any) -> JSON {
        switch value {
        case let flag as Bool: return .bool(flag)
        case let integer as Int: return .int(integer)
        case let double as Double: return number(double)
        case let text as String: return .string(text)
        case let items as [Any]: return .array(items.map(json))
        case let dictionary as [String: Any]:
            var object = JSONObject()
            for key in dictionary.keys.sorted() { object.append(key, json(dictionary[key]!)) }
            return .object(object)
        default: return .null
        }
    }

    static func jsonText(_ object: [String: Any]) -> String { json(object).serializedString }

    static func number(_ value: Double) -> JSON {
        if let integer = Int(exactly: value) { return .int(integer) }
        return .number(String(value))
    }
}
