import Foundation
import Yams

/// Reads a YAML or JSON configuration file into a checked ``GatewayConfiguration``.
///
/// Every problem names its field (`tenants[1].issuer`), so a bad file fails at start-up.
public enum ConfigurationLoader {
    public static func load(yaml text: String, environment: [String: String] = [:]) throws(ConfigurationError) -> GatewayConfiguration {
        let root: Any?
        do {
            // Dates stay text: YAML's timestamps would turn 2026-02-30 into 2026-03-02 without a word.
            root = try Yams.load(yaml: text, Resolver.default.removing(.timestamp))
        } catch {
            throw ConfigurationError(field: "(file)", "not valid YAML or JSON")
        }
        guard let document = root as? [String: Any] else { throw ConfigurationError(field: "(file)", "expected a mapping at the top level") }
        try checkKeys(document, allowed: ["server", "database", "tenants", "development_issuer", "tracing", "admin", "tiers", "stores",
                                          "backend_services", "export"], at: "")

        let serverNode = try mapping(document["server"], at: "server") ?? [:]
        try checkKeys(serverNode, allowed: ["host", "port", "public_base_url", "cursor_secret", "default_page_size", "maximum_page_size",
                                          "request_read_timeout_seconds", "maximum_connections_per_client", "metrics_port",
                                          "replicas", "registry_poll_milliseconds"], at: "server")
        let host = try string(serverNode["host"], at: "server.host") ?? "127.0.0.1"
        let port = try integer(serverNode["port"], at: "server.port") ?? 8080
        guard (1...65535).contains(port) else { throw ConfigurationError(field: "server.port", "must be between 1 and 65535") }
        var publicBase = try string(serverNode["public_base_url"], at: "server.public_base_url") ?? "http://\(host):\(port)"
        guard publicBase.hasPrefix("http://") || publicBase.hasPrefix("https://"), !publicBase.contains("?"), !publicBase.contains("#") else {
            throw ConfigurationError(field: "server.public_base_url", "must be an absolute http(s) URL without query or fragment")
        }
        while publicBase.hasSuffix("/") { publicBase.removeLast() }
        let defaultPage = try integer(serverNode["default_page_size"], at: "server.default_page_size") ?? 20
        let maximumPage = try integer(serverNode["maximum_page_size"], at: "server.maximum_page_size") ?? 200
        guard defaultPage >= 1, maximumPage >= defaultPage, maximumPage <= 1000 else {
            throw ConfigurationError(field: "server.maximum_page_size", "page sizes must satisfy 1 <= default_page_size <= maximum_page_size <= 1000")
        }
        let cursorSecret = try string(serverNode["cursor_secret"], at: "server.cursor_secret")
        if let cursorSecret, cursorSecret.utf8.count < 32 {
            throw ConfigurationError(field: "server.cursor_secret", "must be at least 32 characters")
        }
        let readTimeout = try integer(serverNode["request_read_timeout_seconds"], at: "server.request_read_timeout_seconds") ?? 30
        guard (1...3600).contains(readTimeout) else {
            throw ConfigurationError(field: "server.request_read_timeout_seconds", "must be between 1 and 3600")
        }
        let perClient = try integer(serverNode["maximum_connections_per_client"], at: "server.maximum_connections_per_client") ?? 256
        guard (1...100_000).contains(perClient) else {
            throw ConfigurationError(field: "server.maximum_connections_per_client", "must be between 1 and 100000")
        }
        let metricsPort = try integer(serverNode["metrics_port"], at: "server.metrics_port")
        if let metricsPort {
            guard (1...65535).contains(metricsPort) else { throw ConfigurationError(field: "server.metrics_port", "must be between 1 and 65535") }
            guard metricsPort != port else { throw ConfigurationError(field: "server.metrics_port", "must differ from server.port") }
        }
        var server = GatewayConfiguration.Server(host: host, port: port, publicBaseURL: publicBase, cursorSecret: cursorSecret,
                                                 defaultPageSize: defaultPage, maximumPageSize: maximumPage,
                                                 requestReadTimeoutSeconds: readTimeout, maximumConnectionsPerClient: perClient,
                                                 metricsPort: metricsPort)
        server.replicas = try integer(serverNode["replicas"], at: "server.replicas") ?? 1
        guard (1...1000).contains(server.replicas) else { throw ConfigurationError(field: "server.replicas", "must be between 1 and 1000") }
        server.registryPollMilliseconds = try integer(serverNode["registry_poll_milliseconds"], at: "server.registry_poll_milliseconds") ?? 500
        guard (50...60_000).contains(server.registryPollMilliseconds) else {
            throw ConfigurationError(field: "server.registry_poll_milliseconds", "must be between 50 and 60000")
        }

        let databaseNode = try mapping(document["database"], at: "database") ?? [:]
        try checkKeys(databaseNode, allowed: ["url", "migration_url"], at: "database")
        let configuredURL = try string(databaseNode["url"], at: "database.url")
        let configuredMigrationURL = try string(databaseNode["migration_url"], at: "database.migration_url")
        let databaseURL = environment["DATABASE_URL"] ?? configuredURL ?? "fhir-gateway-data/gateway.sqlite"
        let migrationURL = environment["DATABASE_MIGRATION_URL"] ?? configuredMigrationURL
        let database = GatewayConfiguration.Database.parse(databaseURL, migrationURL: migrationURL)

        let issuerNode = try mapping(document["development_issuer"], at: "development_issuer") ?? [:]
        try checkKeys(issuerNode, allowed: ["key_file"], at: "development_issuer")
        let keyFile = try string(issuerNode["key_file"], at: "development_issuer.key_file") ?? "fhir-gateway-data/dev-issuer-key.pem"
        let developmentIssuer = publicBase + "/dev-issuer"
        let backendNode = try mapping(document["backend_services"], at: "backend_services") ?? [:]
        try checkKeys(backendNode, allowed: ["signing_key_file"], at: "backend_services")
        let backendKeyFile = try string(backendNode["signing_key_file"], at: "backend_services.signing_key_file")
            ?? ((keyFile as NSString).deletingLastPathComponent as NSString).appendingPathComponent("backend-services-key.pem")
        guard !backendKeyFile.isEmpty, backendKeyFile != keyFile else {
            throw ConfigurationError(field: "backend_services.signing_key_file", "must be a file path other than development_issuer.key_file")
        }

        let tracing = try parseTracing(document["tracing"])
        let admin = try parseAdmin(document["admin"], server: server, developmentIssuer: developmentIssuer)
        var tiers: [TenantConfiguration.Tier: TenantLimits] = [:]
        let tierNode = try mapping(document["tiers"], at: "tiers") ?? [:]
        try checkKeys(tierNode, allowed: Set(TenantConfiguration.Tier.allCases.map(\.rawValue)), at: "tiers")
        for tier in TenantConfiguration.Tier.allCases {
            if let limits = try parseLimits(tierNode[tier.rawValue], at: "tiers.\(tier.rawValue)") { tiers[tier] = limits }
        }

        // Tenants may also live only in the registry (admin API, `tenants apply`), so none here is fine.
        let tenantValue = document["tenants"].flatMap { $0 is NSNull ? nil : $0 }
        guard let tenantNodes = (tenantValue ?? [Any]()) as? [Any] else {
            throw ConfigurationError(field: "tenants", "expected a list of tenants")
        }
        var tenants: [TenantConfiguration] = []
        for (index, node) in tenantNodes.enumerated() {
            let tenant = try parseTenant(node, at: "tenants[\(index)]", developmentIssuer: developmentIssuer)
            if tenants.contains(where: { $0.slug == tenant.slug }) {
                throw ConfigurationError(field: "tenants[\(index)].slug", "'\(tenant.slug)' is declared twice")
            }
            tenants.append(tenant)
        }
        var stores: [String: GatewayConfiguration.Database] = [:]
        let storeNode = try mapping(document["stores"], at: "stores") ?? [:]
        for name in storeNode.keys.sorted() {
            guard TenantConfiguration.isValidSlug(name), name != TenantConfiguration.sharedStore else {
                throw ConfigurationError(field: "stores.\(name)", "a store name is lowercase letters, digits and inner hyphens, and not 'shared' (that is `database`)")
            }
            let node = try mapping(storeNode[name], at: "stores.\(name)") ?? [:]
            try checkKeys(node, allowed: ["url", "migration_url"], at: "stores.\(name)")
            guard let url = try string(node["url"], at: "stores.\(name).url"), url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") else {
                throw ConfigurationError(field: "stores.\(name).url", "is required: a dedicated store is a PostgreSQL URL")
            }
            guard case .postgres = database else {
                throw ConfigurationError(field: "stores", "dedicated stores need the shared database to be PostgreSQL too")
            }
            stores[name] = .postgres(url: url, migrationURL: try string(node["migration_url"], at: "stores.\(name).migration_url"))
        }
        for (index, tenant) in tenants.enumerated() where tenant.store != TenantConfiguration.sharedStore && stores[tenant.store] == nil {
            throw ConfigurationError(field: "tenants[\(index)].store", "no store '\(tenant.store)' under stores")
        }
        var configuration = GatewayConfiguration(server: server, database: database, tenants: tenants, developmentKeyFile: keyFile, tracing: tracing,
                                                 admin: admin, tiers: tiers)
        configuration.stores = stores
        configuration.backendSigningKeyFile = backendKeyFile
        configuration.export = try parseExport(document["export"])
        return configuration
    }

    private static func parseAdmin(_ value: Any?, server: GatewayConfiguration.Server,
                                   developmentIssuer: String) throws(ConfigurationError) -> GatewayConfiguration.Admin {
        let node = try mapping(value, at: "admin") ?? [:]
        try checkKeys(node, allowed: ["enabled", "host", "port", "issuer", "jwks_file", "jwks_url", "audience", "scope"], at: "admin")
        let enabled = try boolean(node["enabled"], at: "admin.enabled") ?? true
        let host = try string(node["host"], at: "admin.host") ?? server.host
        let port = try integer(node["port"], at: "admin.port") ?? 8081
        guard (1...65535).contains(port) else { throw ConfigurationError(field: "admin.port", "must be between 1 and 65535") }
        if enabled {
            guard port != server.port, port != server.metricsPort else {
                throw ConfigurationError(field: "admin.port", "must differ from server.port and server.metrics_port")
            }
        }
        let (issuer, keySource) = try parseIssuer(node, at: "admin", developmentIssuer: developmentIssuer, allowFiles: true)
        let audience = try string(node["audience"], at: "admin.audience") ?? server.publicBaseURL + "/admin"
        guard !audience.isEmpty else { throw ConfigurationError(field: "admin.audience", "must not be empty") }
        let scope = try string(node["scope"], at: "admin.scope") ?? GatewayConfiguration.Admin.defaultScope
        guard !scope.isEmpty, !scope.contains(" ") else { throw ConfigurationError(field: "admin.scope", "must be one scope, without spaces") }
        return GatewayConfiguration.Admin(host: host, port: port, enabled: enabled, issuer: issuer, keySource: keySource,
                                          audience: audience, scope: scope)
    }

    /// `issuer` with `jwks_file`, `jwks_url` or `jwks` (an inline key set), or `development`.
    static func parseIssuer(_ node: [String: Any], at path: String, developmentIssuer: String,
                            allowFiles: Bool) throws(ConfigurationError) -> (String, TenantConfiguration.KeySource) {
        let issuerValue = try string(node["issuer"], at: "\(path).issuer") ?? (path == "admin" ? "development" : nil)
        guard let issuerValue else {
            throw ConfigurationError(field: "\(path).issuer", "is required (an https URL, or 'development' for the built-in issuer)")
        }
        let jwksFile = try string(node["jwks_file"], at: "\(path).jwks_file")
        let jwksURL = try string(node["jwks_url"], at: "\(path).jwks_url")
        let inline = node["jwks"].flatMap { $0 is NSNull ? nil : $0 }
        if jwksFile != nil, !allowFiles {
            throw ConfigurationError(field: "\(path).jwks_file", "not accepted here: give jwks_url or an inline jwks")
        }
        if issuerValue == "development" {
            guard jwksFile == nil, jwksURL == nil, inline == nil else {
                throw ConfigurationError(field: "\(path).issuer", "the development issuer has its own key; remove jwks_file, jwks_url and jwks")
            }
            return (developmentIssuer, .development)
        }
        guard issuerValue.hasPrefix("https://") || issuerValue.hasPrefix("http://"), issuerValue.utf8.count <= 2048 else {
            throw ConfigurationError(field: "\(path).issuer", "must be an http(s) URL or 'development'")
        }
        switch (jwksFile, jwksURL, inline) {
        case (let file?, nil, nil): return (issuerValue, .file(file))
        case (nil, let url?, nil):
            guard url.hasPrefix("https://") || url.hasPrefix("http://"), url.utf8.count <= 2048 else {
                throw ConfigurationError(field: "\(path).jwks_url", "must be an http(s) URL")
            }
            return (issuerValue, .url(url))
        case (nil, nil, let keys?):
            guard let object = keys as? [String: Any], object["keys"] is [Any] else {
                throw ConfigurationError(field: "\(path).jwks", "must be a JSON Web Key Set: an object with a keys array")
            }
            return (issuerValue, .inline(ConfigurationValue.jsonText(object)))
        case (nil, nil, nil): throw ConfigurationError(field: "\(path).jwks_url", "an external issuer needs jwks_url, jwks or jwks_file")
        default: throw ConfigurationError(field: "\(path).jwks_url", "give one of jwks_file, jwks_url and jwks")
        }
    }

    static let limitKeys: Set<String> = ["read", "search", "write", "export", "concurrent_requests", "database_connections", "stored_resources",
                                         "export_jobs", "export_jobs_per_client"]

    static func parseLimits(_ value: Any?, at path: String) throws(ConfigurationError) -> TenantLimits? {
        guard let node = try mapping(value, at: path) else { return nil }
        try checkKeys(node, allowed: limitKeys, at: path)
        var limits = TenantLimits()
        limits.read = try parseRate(node["read"], at: "\(path).read")
        limits.search = try parseRate(node["search"], at: "\(path).search")
        limits.write = try parseRate(node["write"], at: "\(path).write")
        limits.export = try parseRate(node["export"], at: "\(path).export")
        limits.concurrentRequests = try integer(node["concurrent_requests"], at: "\(path).concurrent_requests")
        if let value = limits.concurrentRequests, !(1...100_000).contains(value) {
            throw ConfigurationError(field: "\(path).concurrent_requests", "must be between 1 and 100000")
        }
        limits.databaseConnections = try integer(node["database_connections"], at: "\(path).database_connections")
        if let value = limits.databaseConnections, !(1...1000).contains(value) {
            throw ConfigurationError(field: "\(path).database_connections", "must be between 1 and 1000")
        }
        for (key, value) in [("export_jobs", \TenantLimits.exportJobs), ("export_jobs_per_client", \TenantLimits.exportJobsPerClient)] {
            limits[keyPath: value] = try integer(node[key], at: "\(path).\(key)")
            if let count = limits[keyPath: value], !(1...1000).contains(count) {
                throw ConfigurationError(field: "\(path).\(key)", "must be between 1 and 1000")
            }
        }
        if let storage = try mapping(node["stored_resources"], at: "\(path).stored_resources") {
            try checkKeys(storage, allowed: ["soft", "hard"], at: "\(path).stored_resources")
            limits.storedResourcesSoft = try integer(storage["soft"], at: "\(path).stored_resources.soft")
            limits.storedResourcesHard = try integer(storage["hard"], at: "\(path).stored_resources.hard")
            for (name, value) in [("soft", limits.storedResourcesSoft), ("hard", limits.storedResourcesHard)] {
                if let value, !(0...1_000_000_000_000).contains(value) {
                    throw ConfigurationError(field: "\(path).stored_resources.\(name)", "must be between 0 and 1000000000000")
                }
            }
            if let soft = limits.storedResourcesSoft, let hard = limits.storedResourcesHard, soft > hard {
                throw ConfigurationError(field: "\(path).stored_resources.soft", "must not exceed hard")
            }
        }
        return limits
    }

    private static func parseRate(_ value: Any?, at path: String) throws(ConfigurationError) -> RateLimit? {
        guard let node = try mapping(value, at: path) else { return nil }
        try checkKeys(node, allowed: ["rate", "burst"], at: path)
        guard let rate = try number(node["rate"], at: "\(path).rate"), rate > 0, rate <= 1_000_000 else {
            throw ConfigurationError(field: "\(path).rate", "is required: requests per second, above 0 and at most 1000000")
        }
        let burst = try integer(node["burst"], at: "\(path).burst") ?? max(1, Int(min(rate, 1_000_000).rounded(.up)))
        guard (1...10_000_000).contains(burst) else { throw ConfigurationError(field: "\(path).burst", "must be between 1 and 10000000") }
        return RateLimit(rate: rate, burst: burst)
    }

    private static func parseAgreement(_ value: Any?, at path: String) throws(ConfigurationError) -> BusinessAssociateAgreement? {
        guard let node = try mapping(value, at: path) else { return nil }
        try checkKeys(node, allowed: ["version", "signed", "expires"], at: path)
        guard let version = try string(node["version"], at: "\(path).version"), (1...64).contains(version.utf8.count) else {
            throw ConfigurationError(field: "\(path).version", "is required (1-64 characters)")
        }
        guard let signed = try date(node["signed"], at: "\(path).signed") else {
            throw ConfigurationError(field: "\(path).signed", "is required (YYYY-MM-DD)")
        }
        let expires = try date(node["expires"], at: "\(path).expires")
        if let expires, expires < signed { throw ConfigurationError(field: "\(path).expires", "is before signed") }
        return BusinessAssociateAgreement(version: version, signed: signed, expires: expires)
    }

    private static func parseExport(_ value: Any?) throws(ConfigurationError) -> GatewayConfiguration.Export {
        let node = try mapping(value, at: "export") ?? [:]
        try checkKeys(node, allowed: ["directory", "key_encryption_key_file", "file_megabytes", "retention_hours", "lease_seconds", "workers",
                                      "poll_seconds", "resources_per_second"], at: "export")
        var export = GatewayConfiguration.Export()
        if let directory = try string(node["directory"], at: "export.directory") { export.directory = directory }
        if let file = try string(node["key_encryption_key_file"], at: "export.key_encryption_key_file") { export.keyEncryptionKeyFile = file }
        let bounded: [(String, WritableKeyPath<GatewayConfiguration.Export, Int>, ClosedRange<Int>)] = [
            ("file_megabytes", \.fileMegabytes, 1...4096), ("retention_hours", \.retentionHours, 1...720), ("lease_seconds", \.leaseSeconds, 2...3600),
            ("workers", \.workers, 0...64), ("poll_seconds", \.pollSeconds, 1...600),
        ]
        for (key, path, range) in bounded {
            guard let number = try integer(node[key], at: "export.\(key)") else { continue }
            guard range.contains(number) else { throw ConfigurationError(field: "export.\(key)", "must be between \(range.lowerBound) and \(range.upperBound)") }
            export[keyPath: path] = number
        }
        if let rate = try integer(node["resources_per_second"], at: "export.resources_per_second") {
            guard (1...100_000_000).contains(rate) else { throw ConfigurationError(field: "export.resources_per_second", "must be between 1 and 100000000") }
            export.resourcesPerSecond = rate
        }
        return export
    }

    private static func parseTracing(_ value: Any?) throws(ConfigurationError) -> GatewayConfiguration.Tracing {
        let node = try mapping(value, at: "tracing") ?? [:]
        try checkKeys(node, allowed: ["otlp_endpoint", "service_name"], at: "tracing")
        var endpoint = try string(node["otlp_endpoint"], at: "tracing.otlp_endpoint")
        if let given = endpoint {
            guard let url = URL(string: given), url.scheme == "http" || url.scheme == "https", url.host?.isEmpty == false,
                  url.query == nil, url.fragment == nil else {
                throw ConfigurationError(field: "tracing.otlp_endpoint", "must be an http(s) URL such as http://otel-collector:4318/v1/traces")
            }
            // A bare collector address gets the OTLP/HTTP traces path, as OTEL_EXPORTER_OTLP_ENDPOINT does.
            if url.path.isEmpty || url.path == "/" { endpoint = (given.hasSuffix("/") ? String(given.dropLast()) : given) + "/v1/traces" }
        }
        let serviceName = try string(node["service_name"], at: "tracing.service_name") ?? "fhir-gateway"
        guard !serviceName.isEmpty, serviceName.utf8.count <= 255 else {
            throw ConfigurationError(field: "tracing.service_name", "must be 1-255 characters")
        }
        return GatewayConfiguration.Tracing(otlpEndpoint: endpoint, serviceName: serviceName)
    }

    private static let tenantKeys: Set<String> = [
        "slug", "name", "tier", "status", "issuer", "jwks_file", "jwks_url", "audience", "tenant_claim",
        "resource_types", "profile_set", "authorization_endpoint", "token_endpoint", "cors_allowed_origins",
        "jwks", "limits", "baa", "hospital_claim", "store", "writes_paused", "backend_clients",
    ]

    /// One tenant from a configuration file entry or an admin API body (`allowFiles` false: no
    /// `jwks_file`, since an admin must not make the gateway read its own files).
    static func parseTenant(_ node: Any, at path: String, developmentIssuer: String,
                            allowFiles: Bool = true) throws(ConfigurationError) -> TenantConfiguration {
        guard let tenant = node as? [String: Any] else { throw ConfigurationError(field: path, "expected a mapping") }
        try checkKeys(tenant, allowed: tenantKeys, at: path)
        guard let slug = try string(tenant["slug"], at: "\(path).slug") else { throw ConfigurationError(field: "\(path).slug", "is required") }
        guard TenantConfiguration.isValidSlug(slug) else {
            throw ConfigurationError(field: "\(path).slug", "'\(slug)' must be 1-63 lowercase letters, digits or inner hyphens")
        }
        let name = try string(tenant["name"], at: "\(path).name") ?? slug
        guard (1...256).contains(name.utf8.count), !name.utf8.contains(0) else {
            throw ConfigurationError(field: "\(path).name", "must be 1-256 characters")
        }
        let tier = try enumeration(tenant["tier"], at: "\(path).tier", default: TenantConfiguration.Tier.starter)
        let status = try enumeration(tenant["status"], at: "\(path).status", default: TenantConfiguration.Status.active)
        let profileSet = try enumeration(tenant["profile_set"], at: "\(path).profile_set", default: TenantConfiguration.ProfileSet.base)
        let (issuer, keySource) = try parseIssuer(tenant, at: path, developmentIssuer: developmentIssuer, allowFiles: allowFiles)
        guard let audience = try string(tenant["audience"], at: "\(path).audience"), !audience.isEmpty else {
            throw ConfigurationError(field: "\(path).audience", "is required")
        }
        let tenantClaim = try string(tenant["tenant_claim"], at: "\(path).tenant_claim") ?? "tenant_id"
        guard !tenantClaim.isEmpty else { throw ConfigurationError(field: "\(path).tenant_claim", "must not be empty") }

        var resourceTypes = TenantConfiguration.supportedResourceTypes
        if let types = tenant["resource_types"] {
            guard let list = types as? [Any], !list.isEmpty else {
                throw ConfigurationError(field: "\(path).resource_types", "expected a non-empty list of resource types")
            }
            resourceTypes = []
            for (index, item) in list.enumerated() {
                guard let type = item as? String, TenantConfiguration.supportedResourceTypes.contains(type) else {
                    throw ConfigurationError(field: "\(path).resource_types[\(index)]",
                                             "must be one of \(TenantConfiguration.supportedResourceTypes.joined(separator: ", "))")
                }
                if !resourceTypes.contains(type) { resourceTypes.append(type) }
            }
        }
        let authorization = try string(tenant["authorization_endpoint"], at: "\(path).authorization_endpoint")
        let token = try string(tenant["token_endpoint"], at: "\(path).token_endpoint")
        var origins: [String] = []
        if let list = tenant["cors_allowed_origins"] {
            guard let items = list as? [Any] else { throw ConfigurationError(field: "\(path).cors_allowed_origins", "expected a list of origins") }
            for (index, item) in items.enumerated() {
                guard let origin = item as? String, origin == "*" || ((origin.hasPrefix("https://") || origin.hasPrefix("http://"))
                        && !origin.dropFirst(8).contains("/")) else {
                    throw ConfigurationError(field: "\(path).cors_allowed_origins[\(index)]", "must be an origin such as https://app.example.org, or *")
                }
                origins.append(origin)
            }
        }
        var configuration = TenantConfiguration(slug: slug, name: name, tier: tier, status: status, issuer: issuer, keySource: keySource,
                                                audience: audience, tenantClaim: tenantClaim, resourceTypes: resourceTypes, profileSet: profileSet,
                                                authorizationEndpoint: authorization, tokenEndpoint: token)
        configuration.corsAllowedOrigins = origins
        configuration.limits = try parseLimits(tenant["limits"], at: "\(path).limits") ?? TenantLimits()
        configuration.baa = try parseAgreement(tenant["baa"], at: "\(path).baa")
        configuration.store = try string(tenant["store"], at: "\(path).store") ?? TenantConfiguration.sharedStore
        guard TenantConfiguration.isValidSlug(configuration.store) else {
            throw ConfigurationError(field: "\(path).store", "must be 'shared' or a store name (lowercase letters, digits, inner hyphens)")
        }
        configuration.writesPaused = try boolean(tenant["writes_paused"], at: "\(path).writes_paused") ?? false
        configuration.backendClients = try parseBackendClients(tenant["backend_clients"], at: "\(path).backend_clients")
        configuration.hospitalClaim = try string(tenant["hospital_claim"], at: "\(path).hospital_claim")
        if let claim = configuration.hospitalClaim {
            guard (1...64).contains(claim.utf8.count), claim != tenantClaim, !["iss", "sub", "aud", "exp", "nbf", "iat", "scope"].contains(claim) else {
                throw ConfigurationError(field: "\(path).hospital_claim", "must be a claim name of 1-64 characters, not a registered claim or the tenant claim")
            }
        }
        return configuration
    }

    static func checkKeys(_ node: [String: Any], allowed: Set<String>, at path: String) throws(ConfigurationError) {
        for key in node.keys.sorted() where !allowed.contains(key) {
            throw ConfigurationError(field: path.isEmpty ? key : "\(path).\(key)", "unknown field")
        }
    }

    static func mapping(_ value: Any?, at path: String) throws(ConfigurationError) -> [String: Any]? {
        guard let value, !(value is NSNull) else { return nil }
        guard let map = value as? [String: Any] else { throw ConfigurationError(field: path, "expected a mapping") }
        return map
    }

    static func string(_ value: Any?, at path: String) throws(ConfigurationError) -> String? {
        guard let value, !(value is NSNull) else { return nil }
        if let text = value as? String { return text }
        throw ConfigurationError(field: path, "expected a string")
    }

    static func integer(_ value: Any?, at path: String) throws(ConfigurationError) -> Int? {
        guard let value, !(value is NSNull) else { return nil }
        if value is Bool { throw ConfigurationError(field: path, "expected an integer") }
        if let number = value as? Int { return number }
        throw ConfigurationError(field: path, "expected an integer")
    }

    static func number(_ value: Any?, at path: String) throws(ConfigurationError) -> Double? {
        guard let value, !(value is NSNull) else { return nil }
        if value is Bool { throw ConfigurationError(field: path, "expected a number") }
        if let number = value as? Int { return Double(number) }
        if let number = value as? Double, number.isFinite { return number }
        throw ConfigurationError(field: path, "expected a number")
    }

    static func boolean(_ value: Any?, at path: String) throws(ConfigurationError) -> Bool? {
        guard let value, !(value is NSNull) else { return nil }
        if let flag = value as? Bool { return flag }
        throw ConfigurationError(field: path, "expected true or false")
    }

    /// A calendar date, `YYYY-MM-DD` (the loader keeps YAML timestamps as text).
    static func date(_ value: Any?, at path: String) throws(ConfigurationError) -> String? {
        guard let value, !(value is NSNull) else { return nil }
        guard let text = value as? String, BusinessAssociateAgreement.day(text) != nil else {
            throw ConfigurationError(field: path, "expected a date YYYY-MM-DD")
        }
        return text
    }

    static func enumeration<E: RawRepresentable & CaseIterable>(_ value: Any?, at path: String, default fallback: E) throws(ConfigurationError) -> E where E.RawValue == String {
        guard let text = try string(value, at: path) else { return fallback }
        guard let parsed = E(rawValue: text) else {
            throw ConfigurationError(field: path, "'\(text)' must be one of \(E.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return parsed
    }
}
