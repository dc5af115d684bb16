import Foundation

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
        /// Gateway processes sharing the load behind one balancer: each enforces 1/`replicas` of every
        /// tenant's rate limits, so the tenant gets its limit in total (limits are not shared state).
        public var replicas: Int = 1
        /// How often each process reads registry changes made by the others (admin API, CLI).
        public var registryPollMilliseconds: Int = 500

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

    /// The admin API's own listener and the issuer whose tokens it accepts.
    public struct Admin: Sendable, Equatable {
        public var host: String
        public var port: Int
        /// False turns the admin API off (no listener).
        public var enabled: Bool
        public var issuer: String
        public var keySource: TenantConfiguration.KeySource
        public var audience: String
        /// The scope an admin token must carry.
        public var scope: String

        public static let defaultScope = "gateway/admin"

        public init(host: String = "127.0.0.1", port: Int = 8081, enabled: Bool = true, issuer: String,
                    keySource: TenantConfiguration.KeySource = .development, audience: String, scope: String = Admin.defaultScope) {
            self.host = host
            self.port = port
            self.enabled = enabled
            self.issuer = issuer
            self.keySource = keySource
            self.audience = audience
            self.scope = scope
        }
    }

    /// Bulk Data `$export`: where files go, the key that wraps each tenant's file key, and job pacing.
    public struct Export: Sendable, Equatable {
        /// The directory export files are written to; replicas behind one balancer must share it.
        public var directory: String
        /// The key-encryption key (32 random bytes, base64) that wraps each tenant's data key; made on first start when absent.
        public var keyEncryptionKeyFile: String
        /// Largest plaintext size of one output file, in MiB; a type with more is split into several files.
        public var fileMegabytes: Int = 128
        /// Hours a completed job's files are kept (the manifest's `Expires`), then deleted.
        public var retentionHours: Int = 24
        /// A running job's lease: another replica resumes a job whose replica stopped renewing it for this long.
        public var leaseSeconds: Int = 30
        /// Jobs one replica runs at once; 0: this replica serves the API and runs no jobs.
        public var workers: Int = 2
        /// The `Retry-After` given to pollers; a poll sooner than that after the previous one is refused with 429.
        public var pollSeconds: Int = 2
        /// Resources per second one job may read, to spare the database; nil: as fast as it goes.
        public var resourcesPerSecond: Int?

        public init(directory: String = "fhir-gateway-data/exports", keyEncryptionKeyFile: String = "fhir-gateway-data/export-kek.key") {
            self.directory = directory
            self.keyEncryptionKeyFile = keyEncryptionKeyFile
        }
    }

    public var server: Server
    /// The shared store: the tenant registry, and every tenant's data unless it names another store.
    public var database: Database
    /// Dedicated stores by name (PostgreSQL servers of their own); tenants name theirs in the registry.
    public var stores: [String: Database] = [:]
    public var admin: Admin
    /// Limits of each tier; a tenant's record overrides them field by field.
    public var tiers: [TenantConfiguration.Tier: TenantLimits]
    public var tenants: [TenantConfiguration]
    /// Where the development issuer keeps its signing key (PEM), when any tenant uses it.
    public var developmentKeyFile: String
    /// The ES384 key (PEM) that signs the tokens of the gateway's own token endpoint (SMART Backend
    /// Services); made on first start, and the same file must reach every replica.
    public var backendSigningKeyFile: String
    public var tracing: Tracing
    public var export = Export()

    public init(server: Server, database: Database, tenants: [TenantConfiguration], developmentKeyFile: String,
                tracing: Tracing = Tracing(), admin: Admin? = nil, tiers: [TenantConfiguration.Tier: TenantLimits] = [:]) {
        self.admin = admin ?? Admin(host: server.host, issuer: server.publicBaseURL + "/dev-issuer", audience: server.publicBaseURL + "/admin")
        self.tiers = tiers
        self.server = server
        self.database = database
        self.tenants = tenants
        self.developmentKeyFile = developmentKeyFile
        self.backendSigningKeyFile = ((developmentKeyFile as NSString).deletingLastPathComponent as NSString)
            .appendingPathComponent("backend-services-key.pem")
        self.tracing = tracing
    }

    /// Issuer URL of the built-in development issuer.
    public var developmentIssuer: String { server.publicBaseURL + "/dev-issuer" }

    /// The issuer (`iss`) of the tokens the gateway's own token endpoint issues for `slug`; the
    /// endpoint is this plus `/token`, its keys this plus `/jwks.json`.
    public func backendIssuer(slug: String) -> String { Self.backendIssuer(publicBaseURL: server.publicBaseURL, slug: slug) }

    public static func backendIssuer(publicBaseURL: String, slug: String) -> String { "\(publicBaseURL)/\(slug)/auth" }

    public func tenant(slug: some StringProtocol) -> TenantConfiguration? {
        tenants.first { $0.slug == slug }
    }

    /// Every store by name, `shared` included.
    public var allStores: [String: Database] { stores.merging([TenantConfiguration.sharedStore: database]) { _, shared in shared } }

    /// The limits in force for `tenant`: its own overrides over its tier's configured limits over the built-in ones.
    public func limits(for tenant: TenantConfiguration) -> TenantLimits {
        tenant.limits.over((tiers[tenant.tier] ?? TenantLimits()).over(TenantLimits.builtIn(tenant.tier)))
    }
}
