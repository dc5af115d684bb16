import FHIRModels
import Foundation
import GatewayApp
@testable import GatewayStore
import Testing

/// Two real gateway processes on one PostgreSQL: a registry change made through one is in force
/// on the other within 2 s, and each enforces its share of a tenant's rate limit.
@Suite struct ReplicaTests {
    static let binary = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".build/debug/fhir-gateway").path

    final class Replica: @unchecked Sendable {
        let process = Process()
        let port: Int
        let adminPort: Int?

        init(fixture: GatewayFixture, directory: String, name: String, admin: Bool, extra: String = "", database: String? = nil) throws {
            port = try #require(ObservabilityTests.freePort())
            adminPort = admin ? try #require(ObservabilityTests.freePort()) : nil
            let yaml = """
            server:
              host: 127.0.0.1
              port: \(port)
              public_base_url: \(TestTenants.publicBase)
              cursor_secret: test-cursor-secret-0123456789abcdef
              replicas: 2
              registry_poll_milliseconds: 500
            database:
              url: \(database ?? StoreKind.postgresURL!)
            development_issuer:
              key_file: \(fixture.directory)/dev-key.pem
            admin:
              \(adminPort.map { "port: \($0)" } ?? "enabled: false")
            \(extra)
            """
            let file = "\(directory)/\(name).yaml"
            try yaml.write(toFile: file, atomically: true, encoding: .utf8)
            process.executableURL = URL(fileURLWithPath: ReplicaTests.binary)
            process.arguments = ["serve", "--config", file]
            var environment = ProcessInfo.processInfo.environment
            environment["LOG_LEVEL"] = "warning"
            environment.removeValue(forKey: "DATABASE_URL")
            environment.removeValue(forKey: "DATABASE_MIGRATION_URL")
            process.environment = environment
            FileManager.default.createFile(atPath: "\(directory)/\(name).log", contents: nil)
            let log = FileHandle(forWritingAtPath: "\(directory)/\(name).log")
            process.standardOutput = log
            process.standardError = log
            try process.run()
        }

        var client: AdminClient { AdminClient(port: port, token: nil) }

        func waitUntilListening() async throws {
            for _ in 0..<200 {
                if (try? await client.send("GET", "/no-such-tenant/r4/metadata")) != nil { return }
                try await Task.sleep(for: .milliseconds(50))
            }
            Issue.record("replica on port \(port) did not start")
        }

        deinit { if process.isRunning { process.terminate() } }
    }

    /// Polls until `condition` holds on `replica`, returning how long it took (nil: not within `limit`).
    static func timeUntil(_ limit: Duration, _ condition: @Sendable () async throws -> Bool) async throws -> Duration? {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < limit {
            if try await condition() { return ContinuousClock.now - start }
            try await Task.sleep(for: .milliseconds(25))
        }
        return nil
    }

    @Test(.enabled(if: StoreKind.postgresURL != nil))
    func aChangeThroughOneReplicaIsInForceOnTheOtherWithinTwoSeconds() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary), "build the gateway first (swift build --build-tests)")
        let fixture = try await GatewayFixture.shared(.postgres)
        let directory = try GatewayFixture.makeDirectory()
        let slug = try await AdminAPITests.seededTenant(fixture, prefix: "replica")
        let first = try Replica(fixture: fixture, directory: directory, name: "first", admin: true)
        let second = try Replica(fixture: fixture, directory: directory, name: "second", admin: false)
        defer {
            first.process.terminate()
            second.process.terminate()
        }
        try await first.waitUntilListening()
        try await second.waitUntilListening()
        expectStatus(try await second.client.send("GET", "/\(slug)/r4/metadata"), 404)

        let adminToken = try fixture.developmentIssuer.mintAdminToken(audience: "\(TestTenants.publicBase)/admin", scope: "gateway/admin", subject: "ops")
        let admin = AdminClient(port: try #require(first.adminPort), token: adminToken)
        let token = try AdminAPITests.tenantToken(fixture, slug)
        expectStatus(try await admin.send("PUT", "/admin/tenants/\(slug)",
                                          body: AdminAPITests.document(slug, extra: #", "limits": {"read": {"rate": 0.01, "burst": 4}}"#)), 201)
        let created = try await Self.timeUntil(.seconds(2)) {
            try await second.client.send("GET", "/\(slug)/r4/Patient?_count=1", token: .some(token)).status == 200
        }
        #expect(created != nil, "a tenant created through the first replica is served by the second within 2 s")

        // Limits are split: each of the two replicas grants half of the burst of 4.
        let patient = try #require(try await first.client.send("GET", "/\(slug)/r4/Patient?_count=1", token: .some(token)).resources.first?["id"] as? String)
        var served = 0
        for replica in [first, second] {
            var statuses: [Int] = []
            for _ in 0..<4 { statuses.append(try await replica.client.send("GET", "/\(slug)/r4/Patient/\(patient)", token: .some(token)).status) }
            #expect(statuses == [200, 200, 429, 429], "\(statuses)")
            served += statuses.filter { $0 == 200 }.count
        }
        #expect(served == 4, "the tenant gets its limit in total across the replicas")

        expectStatus(try await admin.send("POST", "/admin/tenants/\(slug)/suspend"), 200)
        let suspended = try await Self.timeUntil(.seconds(2)) {
            try await second.client.send("GET", "/\(slug)/r4/Patient?_count=1", token: .some(token)).status == 403
        }
        #expect(suspended != nil, "a suspension through the first replica holds on the second within 2 s")

        let purged = try await admin.send("DELETE", "/admin/tenants/\(slug)?purge=true")
        expectStatus(purged, 200)
        let gone = try await Self.timeUntil(.seconds(2)) { try await second.client.send("GET", "/\(slug)/r4/metadata").status == 404 }
        #expect(gone != nil, "an offboarded tenant is unknown on the second replica within 2 s")
    }
}
