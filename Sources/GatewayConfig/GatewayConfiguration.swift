/// Everything the gateway needs to start, read once at start-up.
public struct GatewayConfiguration: Sendable {
    public struct Server: Sendable, Equatable {
        public var host: String
        public var port: Int
        /// Base of every URL the gateway generates, without a trailing slash.
        public var publicBaseURL: String
        /// Secret that signs paging cursors; replicas behind one load balancer must share it.
        public var cursorSecret: String?
        public var defaultPageSize: Int
        public var maximumPageSize: Int
        /// Seconds a client has to send a whole request (headers and body), counted from the
        /// connection opening or the previous response; also how long an idle connection stays open.
        public var requestReadTimeoutSeconds: Int
        /// Connections one client address may hold open at once.
        public var maximumConnectionsPerClient: Int
        /// When set, `/metrics` is served on its own listener on this port (same host) and not on `port`.
        public var metricsPort: Int?

        public init(host: String = "127.0.0.1", port: Int = 8080, publicBaseURL: String? = nil, cursorSecret: String? = nil,
                    defaultPageSize: Int = 20, maximumPageSize: Int = 200, requestReadTimeoutSeconds: Int = 30,
                    maximumConnectionsPerClient: Int = 256, metricsPort: Int? = nil) {
            self.metricsPort = metricsPort
            self.requestReadTimeoutSeconds = requestReadTimeoutSeconds
            self.maximumConnectionsPerClient = maximumConnectionsPerClient
            self.host = host
            self.port = port
            self.publicBaseURL = publicBaseURL ?? "http://\(host):\(port)"
            self.cursorSecret = cursorSecret
            self.defaultPageSize = defaultPageSize
            self.maximumPageSize = maximumPageSize
        }
    }

    public enum Database: Sendable, Equatable {
        case sqlite(path: String)
        /// `url` is the gateway's own role (subject to row-level security);
        /// `migrationURL`, when given, owns the schema and runs migrations and seeding.
        case postgres(url: String, migrationURL: String?)

        public static func parse(_ value: String, migrationURL: String? = nil) -> Database {
            if value.hasPrefix("postgres://") || value.hasPrefix("postgresql://") {
                return .postgres(url: value, migrationURL: migrationURL)
            }
            return .sqlite(path: value.hasPrefix("sqlite://") ? String(value.dropFirst("sqlite://".count)) : value)
        }
    }

    /// Distributed tracing: off (no spans are made) unless an OTLP endpoint is set.
    public struct Tracing: Sendable, Equatable {
        /// The OTLP/HTTP (protobuf) traces URL, such as `http://otel-collector:4318/v1/traces`; nil turns tracing off.
        public var otlpEndpoint: String?
        /// The `service.name` resource attribute of every span.
        public var serviceName: String

        public init(otlpEndpoint: String? = nil, serviceName: String = "fhir-gateway") {
            self.otlpEndpoint = otlpEndpoint
            self.serviceName = serviceName
        }
    }

    public var server: Server
    public var database: Database
    public var tenants: [TenantConfiguration]
    /// Where the development issuer keeps its signing key (PEM), when any tenant uses it.
    public var developmentKeyFile: String
    public var tracing: Tracing

    public init(server: Server, database: Database, tenants: [TenantConfiguration], developmentKeyFile: String,
                tracing: Tracing = Tracing()) {
        self.server = server
        self.database = database
        self.tenants = tenants
        self.developmentKeyFile = developmentKeyFile
        self.tracing = tracing
    }

    /// Issuer URL of the built-in development issuer.
    public var developmentIssuer: String { server.publicBaseURL + "/dev-issuer" }

    public func tenant(slug: some StringProtocol) -> TenantConfiguration? {
        tenants.first { $0.slug == slug }
    }
}
