import FHIRModels
import Foundation
import GatewayApp
import GatewayConfig
@testable import GatewayStore
import HummingbirdTesting
import Synchronization
import Testing

/// Tenants on two PostgreSQL servers: every statement of a tenant goes to its own store, the
/// isolation rules hold across both, and a tenant moves between them while it is being read and
/// written, with nothing lost and its audit chain intact.
@Suite struct StoreMoveTests {
    static var secondURL: String? { ProcessInfo.processInfo.environment["FHIR_TEST_POSTGRES2_URL"] }
    static var secondMigrationURL: String? { ProcessInfo.processInfo.environment["FHIR_TEST_POSTGRES2_MIGRATION_URL"] }

    @Test(.enabled(if: secondURL != nil && StoreKind.postgresURL != nil))
    func tenantsOnTwoServersStayApartAndOneMovesWithoutLoss() async throws {
        let fixture = try await GatewayFixture.shared(.postgres)
        let second = GatewayConfiguration.Database.postgres(url: try #require(Self.secondURL), migrationURL: Self.secondMigrationURL)
        let secondRepository = try await HMSRepository.open(second, logger: testLogger)
        let runner = Task { await secondRepository.run() }
        defer { runner.cancel() }
        try await secondRepository.migrate()

        let mover = try await AdminAPITests.seededTenant(fixture, prefix: "mover", patients: 12)
        let far = "far-\(UUID().uuidString.prefix(8).lowercased())"
        _ = try await HMSSeeder(repository: secondRepository, batchSize: 25).seed(tenants: [(far, "Far")], patientsPerTenant: 12, logger: testLogger)
        var configuration = fixture.configuration
        configuration.stores = ["second": second]
        configuration.server.registryPollMilliseconds = 100
        let registry = TenantRegistry(repository: fixture.repository, developmentIssuer: configuration.developmentIssuer,
                                      stores: ["second": secondRepository])
        _ = try await registry.put(mover, document: try JSONParser.parse(AdminAPITests.document(mover)), actor: .init(subject: "test"))
        _ = try await registry.put(far, document: try JSONParser.parse(AdminAPITests.document(far, extra: #", "store": "second""#)),
                                   actor: .init(subject: "test"))
        // Changing the store without moving the data is refused.
        await #expect(throws: TenantRegistry.Failure.self) {
            _ = try await registry.patch(mover, changes: try JSONParser.parse(#"{"store": "second"}"#), actor: .init(subject: "test"))
        }
        // A store this gateway does not know is refused.
        await #expect(throws: TenantRegistry.Failure.self) {
            _ = try await registry.put(far, document: try JSONParser.parse(AdminAPITests.document(far, extra: #", "store": "third""#)), actor: .init(subject: "test"))
        }

        let settings = configuration
        let moverToken = try AdminAPITests.tenantToken(fixture, mover, scope: "system/*.cruds")
        let farToken = try AdminAPITests.tenantToken(fixture, far)
        let application = try await GatewayApplication.build(configuration: configuration, repository: fixture.repository, logger: testLogger)
        try await application.test(.router) { client in
            // Each tenant is served from its own server, and neither sees the other.
            let farPatient = GatewayFixture.patientID(far, 3)
            let moverPatient = GatewayFixture.patientID(mover, 3)
            expectStatus(try await client.get("/\(far)/r4/Patient/\(farPatient)", token: farToken), 200)
            expectStatus(try await client.get("/\(mover)/r4/Patient/\(farPatient)", token: moverToken), 404)
            expectStatus(try await client.get("/\(far)/r4/Patient/\(moverPatient)", token: farToken), 404)
            expectStatus(try await client.get("/\(far)/r4/Patient", token: moverToken), 403)
            let farIDs = Set(try await client.get("/\(far)/r4/Patient?_count=50", token: farToken).matchIDs)
            #expect(farIDs == Set((0..<12).map { GatewayFixture.patientID(far, $0) }))
            #expect(try await client.get("/\(mover)/r4/Patient?_count=50", token: moverToken).matchIDs.count == 12)

            func post(_ text: String) async throws -> TestResponse {
                try await client.send("/\(mover)/r4/Observation", method: .post, token: moverToken, headers: ["Content-Type": "application/fhir+json"],
                                      body: #"{"resourceType": "Observation", "status": "final", "code": {"text": "\#(text)"}, "subject": {"reference": "Patient/\#(moverPatient)"}}"#)
            }
            var created: [String] = []
            for index in 0..<3 {
                let response = try await post("before-\(index)")
                expectStatus(response, 201)
                created.append(try #require(response.json["id"] as? String))
            }
            let first = created[0]

            // Reads and writes go on while the tenant moves.
            let traffic = Traffic()
            let reading = Task {
                while !traffic.stopped {
                    let patient = try? await client.get("/\(mover)/r4/Patient/\(moverPatient)", token: moverToken)
                    let result = try? await client.get("/\(mover)/r4/Observation/\(first)", token: moverToken)
                    traffic.read(patient?.status ?? 0, result?.status ?? 0)
                    try? await Task.sleep(for: .milliseconds(20))
                }
            }
            let writing = Task {
                var index = 0
                while !traffic.stopped {
                    index += 1
                    if let response = try? await post("during-\(index)") {
                        traffic.wrote(response.status, response.json["id"] as? String, response.header("Retry-After"))
                    }
                    try? await Task.sleep(for: .milliseconds(50))
                }
            }
            let steps = Mutex<[String]>([])
            try await TenantMove(registry: registry, configuration: settings, logger: testLogger)
                .run(slug: mover, to: "second", actor: .init(subject: "test")) { step in steps.withLock { $0.append(step.name) } }
            try await Task.sleep(for: .milliseconds(300))
            traffic.stop()
            await reading.value
            await writing.value

            #expect(steps.withLock { $0 } == ["snapshot", "paused", "switched", "resumed", "verified", "cleaned"])
            let reads = traffic.reads
            #expect(!reads.isEmpty && reads.allSatisfy { $0 == 200 }, "reads are served throughout: \(Set(reads))")
            let during = traffic.writes
            #expect(during.allSatisfy { $0.status == 201 || ($0.status == 503 && $0.retryAfter == "5") }, "\(during.map(\.status))")
            #expect(during.contains { $0.status == 503 }, "writes were paused for the switch")
            #expect(during.contains { $0.status == 201 }, "writes went on before and after it")
            created += during.compactMap { $0.status == 201 ? $0.id : nil }
            for id in created {
                expectStatus(try await client.get("/\(mover)/r4/Observation/\(id)", token: moverToken), 200, "\(id) survived the move")
            }
            #expect(try await client.get("/\(mover)/r4/Observation?_summary=count", token: moverToken).json["total"] as? Int == created.count)
            expectStatus(try await post("after"), 201)
        }
        #expect(try await registry.get(mover)?.store == "second")
        let tenantID = try #require(try await secondRepository.hmsTenantIDs(slugs: [mover])[mover])
        #expect(try await fixture.repository.hmsTenantIDs(slugs: [mover])[mover] == nil, "the old store holds nothing of the tenant")
        #expect(try await fixture.repository.gatewayRowCounts(tenantID: tenantID) == (0, 0))
        try await secondRepository.sealAudit(tenantID: tenantID)
        let chain = try await secondRepository.verifyAudit(tenantID: tenantID)
        #expect(chain.firstBreak == nil)
        #expect(chain.count > 10, "the trail from before the move came along: \(chain.count)")
        let moves = try await fixture.repository.auditEvents(tenantID: HMSRepository.adminChainTenantID, after: 0, limit: 1_000_000)
            .filter { ($0.string("body") ?? "").contains("\"value\":\"\(mover)\"") }.compactMap { $0.string("subtype") }
        #expect(moves == ["tenant-put", "tenant-patch", "tenant-move", "tenant-patch"], "pause, switch and resume are admin actions: \(moves)")
    }
}

/// What the reader and writer saw during a move.
final class Traffic: Sendable {
    private let state = Mutex<(stopped: Bool, reads: [Int], writes: [(status: Int, id: String?, retryAfter: String?)])>((false, [], []))
    var stopped: Bool { state.withLock { $0.stopped } }
    var reads: [Int] { state.withLock { $0.reads } }
    var writes: [(status: Int, id: String?, retryAfter: String?)] { state.withLock { $0.writes } }
    func stop() { state.withLock { $0.stopped = true } }
    func read(_ statuses: Int...) { state.withLock { $0.reads += statuses } }
    func wrote(_ status: Int, _ id: String?, _ retryAfter: String?) { state.withLock { $0.writes.append((status, id, retryAfter)) } }
}
