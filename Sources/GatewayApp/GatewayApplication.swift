import BulkExport
import Crypto
import FHIRModels
import Foundation
import GatewayAuth
import GatewayConfig
import GatewayStore
import HMSMapping
import Hummingbird
import Logging
import NIOCore
import OTel
import ServiceLifecycle
import Tracing

/// Wires configuration, keys, store and HTTP into one application; `serve` and the tests both use it.
public enum GatewayApplication {
    public struct StartupError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Builds the application. Pass `repository` to share an open store (tests); otherwise the
    /// configured store is opened and, for SQLite or when a migration URL is set, migrated.
    ///
    /// Requests are traced with `tracer` when one is given (tests), otherwise with an OpenTelemetry
    /// tracer exporting to `tracing.otlp_endpoint` when that is set; otherwise not at all. The tracer
    /// is this application's own: nothing is bootstrapped process-wide.
    public static func build(configuration: GatewayConfiguration, repository: HMSRepository? = nil,
                             logger: Logger = Logger(label: "fhir-gateway"), tracer: (any Tracer)? = nil) async throws -> some ApplicationProtocol {
        _ = try ResourceValidation.loaded.get()
        let developmentIssuer = try await loadDevelopmentIssuer(configuration)
        let backendIssuer: BackendTokenIssuer
        do {
            backendIssuer = try await BackendTokenIssuer.loadOrCreate(keyFile: configuration.backendSigningKeyFile,
                                                                      publicBaseURL: configuration.server.publicBaseURL)
        } catch {
            throw StartupError(description: error.description)
        }
        let verifier = TokenVerifier(developmentIssuer: developmentIssuer, backendIssuer: backendIssuer, logger: logger)
        let store: HMSRepository
        var runners: [Task<Void, Never>] = []
        if let repository {
            store = repository
        } else {
            store = try await HMSRepository.open(configuration.database, logger: logger)
            runners.append(Task { await store.run() })
            if case .postgres(_, nil) = configuration.database {} else { try await store.migrate() }
        }
        var stores = [TenantConfiguration.sharedStore: TenantStore(name: TenantConfiguration.sharedStore, repository: store,
                                                                    audit: AuditWriter(repository: store))]
        for (name, database) in configuration.stores.sorted(by: { $0.key < $1.key }) {
            let dedicated = try await HMSRepository.open(database, logger: logger)
            runners.append(Task { await dedicated.run() })
            if case .postgres(_, _?) = database { try await dedicated.migrate() }
            stores[name] = TenantStore(name: name, repository: dedicated, audit: AuditWriter(repository: dedicated))
        }
        let vault = try makeExportVault(configuration.export, logger: logger)
        let registry = TenantRegistry(repository: store, developmentIssuer: configuration.developmentIssuer,
                                      stores: stores.mapValues(\.repository), exportFiles: vault.storage)
        let documents = TenantDocuments(renderer: try CapabilityStatementRenderer(),
                                        developmentJWKS: configuration.server.publicBaseURL + "/dev-issuer/jwks.json",
                                        backendIssuer: { configuration.backendIssuer(slug: $0) })
        let directory = TenantDirectory(configuration: configuration, documents: documents, verifier: verifier, repository: store,
                                        stores: stores, logger: logger)
        do {
            try await registry.applyConfiguration(configuration.tenants, actor: TenantRegistry.Actor(subject: "configuration-file"))
            try await directory.refresh()
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw StartupError(description: "cannot read the tenant registry: is the database migrated (schema version 12) and reachable?")
        }
        if configuration.admin.enabled {
            do { try await verifier.install(realm: TokenVerifier.adminRealm, keySource: configuration.admin.keySource, fetchNow: true) } catch {
                throw StartupError(description: "configuration error at 'admin.\(error.field)': \(error.problem)")
            }
        }
        for (name, tenantStore) in stores {
            let tenantIDs = directory.all.filter { $0.configuration.store == name }.compactMap(\.hmsTenantID)
            tenantStore.repository.sealWaitingAuditInBackground(tenantIDs: tenantIDs + (name == TenantConfiguration.sharedStore ? [HMSRepository.adminChainTenantID] : []))
        }
        let secret: String
        if let configured = configuration.server.cursorSecret {
            secret = configured
        } else {
            secret = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
            logger.notice("no server.cursor_secret configured: paging cursors are valid for this process only")
        }
        var tracingService: (any Service)?
        var requestTracer = tracer
        if requestTracer == nil, let endpoint = configuration.tracing.otlpEndpoint {
            let backend = try makeTracingBackend(configuration.tracing, endpoint: endpoint, logger: logger)
            requestTracer = backend.tracer
            tracingService = backend.service
        }
        let metrics = GatewayMetrics(knownTypes: GatewayMetrics.knownResourceTypes, database: { (store.activeCalls, store.maximumConnections) })
        let services = GatewayServices(configuration: configuration, tenants: directory, verifier: verifier, repository: store, stores: stores,
                                       cursors: CursorCodec(secret: secret), developmentIssuer: developmentIssuer,
                                       backendIssuer: backendIssuer,
                                       limiter: TenantLimiter(replicas: configuration.server.replicas),
                                       quota: StorageQuota(metrics: metrics, logger: logger),
                                       hospitals: HospitalResolver(),
                                       metrics: metrics, tracer: requestTracer, logger: logger)
        let exports = ExportWorker(services: services, vault: vault)
        let connections = ConnectionGuard.Registry(maximumPerClient: configuration.server.maximumConnectionsPerClient)
        let readTimeout = TimeAmount.seconds(Int64(configuration.server.requestReadTimeoutSeconds))
        // DESIGN.md section 3, outermost first; each layer in its own file under Pipeline/.
        let pipeline = MiddlewareChain([
            RequestLogMiddleware(services: services),
            PathGuardMiddleware(services: services),
            TenantMiddleware(services: services),
            LimitMiddleware(services: services),
            BackendServicesMiddleware(services: services),
            AuditMiddleware(services: services),
            ContentNegotiationMiddleware(),
            AuthenticationMiddleware(services: services),
        ], around: InteractionDispatcher(services: services, exports: exports))
        var application = Application(
            responder: pipeline,
            server: .http1(configuration: .init(
                additionalChannelHandlers: [ConnectionGuard(registry: connections, requestReadTimeout: readTimeout), DateHeaderWriter()],
                idleTimeout: readTimeout)),
            configuration: .init(address: .hostname(configuration.server.host, port: configuration.server.port), serverName: "fhir-gateway"),
            logger: logger)
        for runner in runners { application.addServices(StoreLifetime(runner: runner)) }
        application.addServices(exports)
        application.addServices(RegistrySync(directory: directory, metrics: services.metrics,
                                             interval: .milliseconds(configuration.server.registryPollMilliseconds), logger: logger))
        if configuration.admin.enabled {
            application.addServices(Application(
                responder: AdminResponder(services: services, registry: registry),
                server: .http1(configuration: .init(idleTimeout: readTimeout)),
                configuration: .init(address: .hostname(configuration.admin.host, port: configuration.admin.port), serverName: "fhir-gateway-admin"),
                logger: logger))
        }
        if let tracingService { application.addServices(tracingService) }
        if let metricsPort = configuration.server.metricsPort {
            application.addServices(Application(
                responder: MetricsResponder(metrics: services.metrics),
                server: .http1(configuration: .init(idleTimeout: readTimeout)),
                configuration: .init(address: .hostname(configuration.server.host, port: metricsPort), serverName: "fhir-gateway"),
                logger: logger))
        }
        return application
    }

    /// Export files go to the configured directory, sealed with tenant keys wrapped by the key-encryption key.
    static func makeExportVault(_ settings: GatewayConfiguration.Export, logger: Logger) throws -> ExportVault {
        do {
            let storage = try DirectoryFileStorage(root: settings.directory)
            let (envelope, created) = try DataKeyEnvelope.loadOrCreate(path: settings.keyEncryptionKeyFile)
            if created {
                logger.notice("created the export key-encryption key; every replica needs this same file",
                              metadata: ["file": .string(settings.keyEncryptionKeyFile)])
            }
            return ExportVault(storage: storage, envelope: envelope)
        } catch {
            throw StartupError(description: "export storage is not usable: \(error)")
        }
    }

    /// OpenTelemetry tracing over OTLP/HTTP (protobuf): spans are batched and exported by the
    /// returned service, which runs with the application. The standard `OTEL_*` environment
    /// variables (sampler, batch sizes, headers) still apply on top of the configuration.
    static func makeTracingBackend(_ tracing: GatewayConfiguration.Tracing, endpoint: String,
                                   logger: Logger) throws -> (tracer: any Tracer, service: any Service) {
        var otel = OTel.Configuration.default
        otel.serviceName = tracing.serviceName
        otel.diagnosticLogger = .custom(logger)
        otel.logs.enabled = false
        otel.metrics.enabled = false
        otel.traces.exporter = .otlp
        otel.traces.otlpExporter.protocol = .httpProtobuf
        otel.traces.otlpExporter.endpoint = endpoint
        let backend = try OTel.makeTracingBackend(configuration: otel)
        return (backend.factory, backend.service)
    }

    /// The development issuer's key is loaded (made on first start) always: tenants created through
    /// the admin API and the admin API itself may trust it.
    static func loadDevelopmentIssuer(_ configuration: GatewayConfiguration) async throws -> DevelopmentIssuer? {
        do {
            return try await DevelopmentIssuer.loadOrCreate(keyFile: configuration.developmentKeyFile, issuer: configuration.developmentIssuer)
        } catch {
            throw StartupError(description: error.description)
        }
    }
}

/// Keeps the store's connection pool running for the application's lifetime.
struct StoreLifetime: Service {
    let runner: Task<Void, Never>

    func run() async throws {
        try? await gracefulShutdown()
        runner.cancel()
    }
}
