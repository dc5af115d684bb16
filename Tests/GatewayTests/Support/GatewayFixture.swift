import FHIRModels
import Foundation
import GatewayApp
@testable import GatewayAuth
import GatewayConfig
@testable import GatewayStore
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import NIOCore

enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    var testDescription: String { rawValue }

    static var postgresURL: String? { ProcessInfo.processInfo.environment["FHIR_TEST_POSTGRES_URL"] }
    static var postgresMigrationURL: String? { ProcessInfo.processInfo.environment["FHIR_TEST_POSTGRES_MIGRATION_URL"] }

    /// SQLite always; PostgreSQL when the test script started one (it always does in CI).
    static var available: [StoreKind] { postgresURL == nil ? [.sqlite] : [.sqlite, .postgres] }
}

/// Tenants whose data collide on purpose (same MRNs, names, registration numbers), each with its own issuer.
enum TestTenants {
    static let publicBase = "https://fhir.test"
    static let seeded = ["acme", "globex", "initech", "umbrella"]
    static let patientsPerTenant = 60

    static func yaml(directory: String, database: String) -> String {
        """
        server:
          host: 127.0.0.1
          port: 8080
          public_base_url: \(publicBase)
          cursor_secret: test-cursor-secret-0123456789abcdef
          default_page_size: 10
          maximum_page_size: 50
        database:
          url: \(database)
        development_issuer:
          key_file: \(directory)/dev-key.pem
        admin:
          enabled: false
        export:
          directory: \(directory)/exports
          key_encryption_key_file: \(directory)/export.kek
          poll_seconds: 1
        tiers:
          enterprise: {read: {rate: 100000, burst: 100000}, search: {rate: 100000, burst: 100000}, write: {rate: 100000, burst: 100000}, export: {rate: 100000, burst: 100000}, concurrent_requests: 10000, export_jobs: 20, export_jobs_per_client: 10}
          professional: {read: {rate: 100000, burst: 100000}, search: {rate: 100000, burst: 100000}, write: {rate: 100000, burst: 100000}, export: {rate: 100000, burst: 100000}, concurrent_requests: 10000, export_jobs: 20, export_jobs_per_client: 10}
          starter: {read: {rate: 100000, burst: 100000}, search: {rate: 100000, burst: 100000}, write: {rate: 100000, burst: 100000}, export: {rate: 100000, burst: 100000}, concurrent_requests: 10000, export_jobs: 20, export_jobs_per_client: 10}
        tenants:
          - slug: acme
            name: Acme Health Group
            tier: enterprise
            issuer: https://idp.acme.test
            jwks_file: \(directory)/acme-jwks.json
            audience: https://fhir.test/acme/r4
            profile_set: us-core
            cors_allowed_origins: [https://app.acme.test]
            baa: {version: "2026-01", signed: 2026-01-01}
          - slug: globex
            name: Globex Hospitals
            tier: professional
            issuer: https://login.globex.test/realms/globex
            jwks_file: \(directory)/globex-jwks.json
            audience: globex-fhir
            tenant_claim: org
            profile_set: base
            resource_types: [Patient, Practitioner, Encounter, Organization]
            baa: {version: "2026-01", signed: 2026-01-01}
          - slug: initech
            name: Initech Care
            issuer: development
            audience: https://fhir.test/initech/r4
            profile_set: us-core
            baa: {version: "2026-01", signed: 2026-01-01}
          - slug: umbrella
            name: Umbrella Clinics
            status: suspended
            issuer: https://idp.acme.test
            jwks_file: \(directory)/acme-jwks.json
            audience: https://fhir.test/umbrella/r4
            baa: {version: "2026-01", signed: 2026-01-01}
        """
    }

    static func writeKeySets(directory: String) throws {
        let acme = JSON.object(["keys": .array([TestKeys.jwk(rsa: TestKeys.acmeRSA, kid: "acme-rsa-1"), TestKeys.jwk(ec: TestKeys.acmeEC, kid: "acme-ec-1")])])
        let globex = JSON.object(["keys": .array([TestKeys.jwk(ec: TestKeys.globexEC, kid: "globex-ec-1")])])
        try Data(acme.serialized).write(to: URL(fileURLWithPath: "\(directory)/acme-jwks.json"))
        try Data(globex.serialized).write(to: URL(fileURLWithPath: "\(directory)/globex-jwks.json"))
    }
}

/// One seeded store and an application over it, shared by every test of that store.
final class GatewayFixture: Sendable {
    let store: StoreKind
    let configuration: GatewayConfiguration
    let repository: HMSRepository
    let directory: String
    let developmentIssuer: DevelopmentIssuer

    private init(store: StoreKind, configuration: GatewayConfiguration, repository: HMSRepository, directory: String, developmentIssuer: DevelopmentIssuer) {
        self.store = store
        self.configuration = configuration
        self.repository = repository
        self.directory = directory
        self.developmentIssuer = developmentIssuer
    }

    private static let sqliteFixture = Task { try await GatewayFixture.make(.sqlite) }
    private static let postgresFixture = Task { try await GatewayFixture.make(.postgres) }

    static func shared(_ store: StoreKind) async throws -> GatewayFixture {
        switch store {
        case .sqlite: try await sqliteFixture.value
        case .postgres: try await postgresFixture.value
        }
    }

    static func makeDirectory() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fhir-gateway-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    /// A fixture of its own (SQLite, own folder): for tests whose settings must not reach the shared
    /// store's other applications (their export workers claim jobs from any application on a store).
    static func isolated(_ adjust: (inout GatewayConfiguration) -> Void) async throws -> GatewayFixture {
        try await make(.sqlite, adjust: adjust)
    }

    private static func make(_ store: StoreKind, adjust: (inout GatewayConfiguration) -> Void = { _ in }) async throws -> GatewayFixture {
        let directory = try makeDirectory()
        try TestTenants.writeKeySets(directory: directory)
        let database = store == .sqlite ? "\(directory)/gateway.sqlite" : StoreKind.postgresURL!
        var environment: [String: String] = [:]
        if store == .postgres, let migration = StoreKind.postgresMigrationURL { environment["DATABASE_MIGRATION_URL"] = migration }
        var configuration = try ConfigurationLoader.load(yaml: TestTenants.yaml(directory: directory, database: database), environment: environment)
        adjust(&configuration)
        let logger = testLogger
        let repository = try await HMSRepository.open(configuration.database, logger: logger)
        Task { await repository.run() }
        try await repository.migrate()
        _ = try await HMSSeeder(repository: repository, batchSize: 25).seed(
            tenants: TestTenants.seeded.map { ($0, $0.capitalized) }, patientsPerTenant: TestTenants.patientsPerTenant, logger: logger)
        let issuer = try await DevelopmentIssuer.loadOrCreate(keyFile: configuration.developmentKeyFile, issuer: configuration.developmentIssuer)
        return GatewayFixture(store: store, configuration: configuration, repository: repository, directory: directory, developmentIssuer: issuer)
    }

    /// Runs `body` against the in-process application.
    func withClient(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let application = try await GatewayApplication.build(configuration: configuration, repository: repository, logger: testLogger)
        try await application.test(.router) { client in try await body(client) }
    }

    // MARK: Tokens

    static let now = Int64(Date().timeIntervalSince1970)

    /// A valid token for `tenant` from its own issuer, with optional claim overrides (nil removes a claim).
    func token(_ tenant: String, scope: String = "system/*.rs", claims overrides: [String: JSON?] = [:], kid: String? = nil) -> String {
        var claims = JSONObject()
        let configured = configuration.tenant(slug: tenant)!
        claims.append("iss", configured.issuer)
        claims.append("sub", "test-client")
        claims.append("aud", configured.audience)
        claims.append("iat", .int(Int(Self.now)))
        claims.append("exp", .int(Int(Self.now + 600)))
        claims.append(configured.tenantClaim, tenant)
        claims.append("scope", scope)
        claims.append("azp", "test-app")
        for (key, value) in overrides { claims[key] = value }
        switch configured.keySource {
        case .development:
            return try! developmentIssuer.sign(claims: claims)
        default:
            if tenant == "globex" {
                return TestKeys.sign(header: Self.header("ES256", kid ?? "globex-ec-1"), claims: .object(claims), with: .es256(TestKeys.globexEC))
            }
            let useEC = kid == "acme-ec-1"
            return TestKeys.sign(header: Self.header(useEC ? "ES256" : "RS256", kid ?? "acme-rsa-1"), claims: .object(claims),
                                 with: useEC ? .es256(TestKeys.acmeEC) : .rs256(TestKeys.acmeRSA))
        }
    }

    static func header(_ alg: String, _ kid: String?) -> JSON {
        var header = JSONObject()
        header.append("alg", alg)
        header.append("typ", "JWT")
        header.append("kid", kid)
        return .object(header)
    }

    /// Deterministic HMS ids the seeder gave a tenant: the ground truth for isolation checks.
    static func patientID(_ tenant: String, _ index: Int) -> String { SplitMix64.uuid(tenant, "patient", String(index)) }
    static func doctorID(_ tenant: String, _ index: Int) -> String { SplitMix64.uuid(tenant, "doctor", String(index)) }
    static func hospitalID(_ tenant: String, _ index: Int) -> String { SplitMix64.uuid(tenant, "hospital", String(index)) }
}

/// A parsed response, for assertions.
struct TestResponse: Sendable {
    let status: Int
    let headers: HTTPFields
    let body: String

    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
    var issueCode: String? { ((json["issue"] as? [[String: Any]])?.first?["code"]) as? String }
    var entries: [[String: Any]] { json["entry"] as? [[String: Any]] ?? [] }
    var resources: [[String: Any]] { entries.compactMap { $0["resource"] as? [String: Any] } }
    var matchIDs: [String] {
        entries.filter { (($0["search"] as? [String: Any])?["mode"] as? String) == "match" }
            .compactMap { ($0["resource"] as? [String: Any])?["id"] as? String }
    }
    func link(_ relation: String) -> String? {
        (json["link"] as? [[String: Any]])?.first { ($0["relation"] as? String) == relation }?["url"] as? String
    }
    func header(_ name: String) -> String? { HTTPField.Name(name).flatMap { headers[$0] } }
}

extension TestClientProtocol {
    /// `path` is relative to the server root; `token` becomes a bearer header.
    func get(_ path: String, token: String? = nil, headers extra: [String: String] = [:]) async throws -> TestResponse {
        try await send(path, method: .get, token: token, headers: extra)
    }

    func send(_ path: String, method: HTTPRequest.Method, token: String? = nil, headers extra: [String: String] = [:], body: String? = nil) async throws -> TestResponse {
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        for (name, value) in extra { headers[HTTPField.Name(name)!] = value }
        let response = try await execute(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        return TestResponse(status: Int(response.status.code), headers: response.headers, body: String(buffer: response.body))
    }
}

/// Strips the public base so a server-generated absolute URL can be replayed in-process.
func relative(_ url: String) -> String {
    url.hasPrefix(TestTenants.publicBase) ? String(url.dropFirst(TestTenants.publicBase.count)) : url
}

func expectStatus(_ response: TestResponse, _ status: Int, _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(response.status == status, comment, sourceLocation: sourceLocation)
}

let testLogger: Logger = {
    var logger = Logger(label: "tests")
    logger.logLevel = .error
    return logger
}()
