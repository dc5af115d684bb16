import Foundation
import Yams

/// Reads a YAML or JSON configuration file into a checked ``GatewayConfiguration``.
///
/// Every problem names its field (`tenants[1].issuer`), so a bad file fails at start-up.
public enum ConfigurationLoader {
    public static func load(yaml text: String, environment: [String: String] = [:]) throws(ConfigurationError) -> GatewayConfiguration {
        let root: Any?
        do {
            root = try Yams.load(yaml: text)
        } catch {
            throw ConfigurationError(field: "(file)", "not valid YAML or JSON")
        }
        guard let document = root as? [String: Any] else { throw ConfigurationError(field: "(file)", "expected a mapping at the top level") }
        try checkKeys(document, allowed: ["server", "database", "tenants", "development_issuer", "tracing"], at: "")

        let serverNode = try mapping(document["server"], at: "server") ?? [:]
        try checkKeys(serverNode, allowed: ["host", "port", "public_base_url", "cursor_secret", "default_page_size", "maximum_page_size",
                                          "request_read_timeout_seconds", "maximum_connections_per_client", "metrics_port"], at: "server")
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
        let server = GatewayConfiguration.Server(host: host, port: port, publicBaseURL: publicBase, cursorSecret: cursorSecret,
                                                 defaultPageSize: defaultPage, maximumPageSize: maximumPage,
                                                 requestReadTimeoutSeconds: readTimeout, maximumConnectionsPerClient: perClient,
                                                 metricsPort: metricsPort)

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

        let tracing = try parseTracing(document["tracing"])

        guard let tenantNodes = document["tenants"] as? [Any], !tenantNodes.isEmpty else {
            throw ConfigurationError(field: "tenants", "at least one tenant is required")
        }
        var tenants: [TenantConfiguration] = []
        for (index, node) in tenantNodes.enumerated() {
            let tenant = try parseTenant(node, at: "tenants[\(index)]", developmentIssuer: developmentIssuer)
            if tenants.contains(where: { $0.slug == tenant.slug }) {
                throw ConfigurationError(field: "tenants[\(index)].slug", "'\(tenant.slug)' is declared twice")
            }
            tenants.append(tenant)
        }
        return GatewayConfiguration(server: server, database: database, tenants: tenants, developmentKeyFile: keyFile, tracing: tracing)
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
    ]

    private static func parseTenant(_ node: Any, at path: String, developmentIssuer: String) throws(ConfigurationError) -> TenantConfiguration {
        guard let tenant = node as? [String: Any] else { throw ConfigurationError(field: path, "expected a mapping") }
        try checkKeys(tenant, allowed: tenantKeys, at: path)
        guard let slug = try string(tenant["slug"], at: "\(path).slug") else { throw ConfigurationError(field: "\(path).slug", "is required") }
        guard TenantConfiguration.isValidSlug(slug) else {
            throw ConfigurationError(field: "\(path).slug", "'\(slug)' must be 1-63 lowercase letters, digits or inner hyphens")
        }
        let name = try string(tenant["name"], at: "\(path).name") ?? slug
        let tier = try enumeration(tenant["tier"], at: "\(path).tier", default: TenantConfiguration.Tier.starter)
        let status = try enumeration(tenant["status"], at: "\(path).status", default: TenantConfiguration.Status.active)
        let profileSet = try enumeration(tenant["profile_set"], at: "\(path).profile_set", default: TenantConfiguration.ProfileSet.base)

        guard let issuerValue = try string(tenant["issuer"], at: "\(path).issuer") else {
            throw ConfigurationError(field: "\(path).issuer", "is required (an https URL, or 'development' for the built-in issuer)")
        }
        let jwksFile = try string(tenant["jwks_file"], at: "\(path).jwks_file")
        let jwksURL = try string(tenant["jwks_url"], at: "\(path).jwks_url")
        let issuer: String
        let keySource: TenantConfiguration.KeySource
        if issuerValue == "development" {
            guard jwksFile == nil, jwksURL == nil else {
                throw ConfigurationError(field: "\(path).jwks_file", "the development issuer has its own key; remove jwks_file and jwks_url")
            }
            issuer = developmentIssuer
            keySource = .development
        } else {
            guard issuerValue.hasPrefix("https://") || issuerValue.hasPrefix("http://") else {
                throw ConfigurationError(field: "\(path).issuer", "must be an http(s) URL or 'development'")
            }
            issuer = issuerValue
            switch (jwksFile, jwksURL) {
            case (let file?, nil): keySource = .file(file)
            case (nil, let url?):
                guard url.hasPrefix("https://") || url.hasPrefix("http://") else {
                    throw ConfigurationError(field: "\(path).jwks_url", "must be an http(s) URL")
                }
                keySource = .url(url)
            case (nil, nil): throw ConfigurationError(field: "\(path).jwks_file", "a tenant with an external issuer needs jwks_file or jwks_url")
            default: throw ConfigurationError(field: "\(path).jwks_url", "give jwks_file or jwks_url, not both")
            }
        }
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
        return configuration
    }

    private static func checkKeys(_ node: [String: Any], allowed: Set<String>, at path: String) throws(ConfigurationError) {
        for key in node.keys.sorted() where !allowed.contains(key) {
            throw ConfigurationError(field: path.isEmpty ? key : "\(path).\(key)", "unknown field")
        }
    }

    private static func mapping(_ value: Any?, at path: String) throws(ConfigurationError) -> [String: Any]? {
        guard let value, !(value is NSNull) else { return nil }
        guard let map = value as? [String: Any] else { throw ConfigurationError(field: path, "expected a mapping") }
        return map
    }

    private static func string(_ value: Any?, at path: String) throws(ConfigurationError) -> String? {
        guard let value, !(value is NSNull) else { return nil }
        if let text = value as? String { return text }
        throw ConfigurationError(field: path, "expected a string")
    }

    private static func integer(_ value: Any?, at path: String) throws(ConfigurationError) -> Int? {
        guard let value, !(value is NSNull) else { return nil }
        if let number = value as? Int { return number }
        throw ConfigurationError(field: path, "expected an integer")
    }

    private static func enumeration<E: RawRepresentable & CaseIterable>(_ value: Any?, at path: String, default fallback: E) throws(ConfigurationError) -> E where E.RawValue == String {
        guard let text = try string(value, at: path) else { return fallback }
        guard let parsed = E(rawValue: text) else {
            throw ConfigurationError(field: path, "'\(text)' must be one of \(E.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return parsed
    }
}
