import FHIRModels
import Foundation
@testable import GatewayStore
import Testing

/// A replica killed (SIGKILL) in the middle of an export leaves a job another replica resumes
/// from its last checkpoint: the output holds every resource exactly once.
@Suite struct ExportResumeTests {
    /// Runs SQL as the cluster's superuser (test clusters only).
    @discardableResult
    static func psql(_ sql: String) -> Int32 {
        guard let admin = ProcessInfo.processInfo.environment["FHIR_TEST_POSTGRES_ADMIN_URL"] else { return -1 }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["psql", admin, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql]
        process.standardOutput = FileHandle.nullDevice
        try? process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// A new database on the test cluster, migrated and seeded with acme's 60 patients.
    static func seededDatabase() async throws -> (name: String, url: String) {
        let name = "fhir_resume_\(UUID().uuidString.prefix(8).lowercased())"
        #expect(psql("CREATE DATABASE \(name) OWNER fhir_owner") == 0)
        func renamed(_ url: String) -> String { String(url[..<url.lastIndex(of: "/")!]) + "/" + name }
        let url = renamed(StoreKind.postgresURL!)
        let migration = StoreKind.postgresMigrationURL.map(renamed)
        try await HMSRepository.withOpen(.postgres(url: url, migrationURL: migration), logger: testLogger) { repository in
            try await repository.migrate()
            _ = try await HMSSeeder(repository: repository, batchSize: 25).seed(tenants: [("acme", "Acme Health Group")],
                                                                              patientsPerTenant: TestTenants.patientsPerTenant, logger: testLogger)
        }
        return (name, url)
    }

    /// SIGKILL: the job waits out its 2 s lease. SIGTERM: the replica hands the job over as it stops,
    /// so it resumes at once although its lease (10 minutes here) has not run out.
    @Test(.enabled(if: StoreKind.postgresURL != nil && ProcessInfo.processInfo.environment["FHIR_TEST_POSTGRES_ADMIN_URL"] != nil),
          arguments: [SIGKILL, SIGTERM])
    func aJobSurvivesTheReplicaRunningIt(signal: Int32) async throws {
        #expect(FileManager.default.isExecutableFile(atPath: ReplicaTests.binary), "build the gateway first (swift build --build-tests)")
        let fixture = try await GatewayFixture.shared(.postgres)
        let directory = try GatewayFixture.makeDirectory()
        // A database of its own: the export workers of the other tests' applications would otherwise claim the job.
        let database = try await Self.seededDatabase()
        defer { Self.psql("DROP DATABASE IF EXISTS \(database.name) WITH (FORCE)") }
        // Paced so the kill lands mid-job; both replicas share the files and the key-encryption key.
        let export = """
            export:
              directory: \(directory)/exports
              key_encryption_key_file: \(directory)/export.kek
              resources_per_second: 40
              lease_seconds: \(signal == SIGKILL ? 2 : 600)
              poll_seconds: 1
            tenants:
              - slug: acme
                name: Acme Health Group
                issuer: development
                audience: https://fhir.test/acme/r4
                baa: {version: "2026-01", signed: 2026-01-01}
                limits: {export: {rate: 100, burst: 100}, export_jobs: 5, export_jobs_per_client: 5}
            """
        let token = try fixture.developmentIssuer.mintToken(tenant: "acme", audience: "https://fhir.test/acme/r4", scope: "system/*.rs",
                                                            clientID: "resume-test")
        let first = try ReplicaTests.Replica(fixture: fixture, directory: directory, name: "first", admin: false, extra: export,
                                                 database: database.url)
        defer { if first.process.isRunning { first.process.terminate() } }
        try await first.waitUntilListening()
        let kickOff = try await first.client.send("GET", "/acme/r4/$export?_type=Patient,Encounter", token: .some(token),
                                                  headers: ["Prefer": "respond-async"])
        expectStatus(kickOff, 202, "\(kickOff.body)")
        let status = relative(try #require(kickOff.header("Content-Location")))

        // Wait until the first replica has checkpointed some of the job, then kill it outright.
        var writtenAtKill = 0
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(1100))
            let poll = try await first.client.send("GET", status, token: .some(token))
            let progress = poll.header("X-Progress") ?? ""
            if let count = Int(progress.split(separator: " ").dropFirst().first ?? ""), count >= 40 {
                writtenAtKill = count
                break
            }
            #expect(poll.status == 202, "still running: \(poll.status) \(progress) \(poll.body.prefix(600))")
        }
        #expect(writtenAtKill > 0, "the job was checkpointed before the kill")
        kill(first.process.processIdentifier, signal)
        first.process.waitUntilExit()

        let second = try ReplicaTests.Replica(fixture: fixture, directory: directory, name: "second", admin: false, extra: export,
                                                  database: database.url)
        defer { second.process.terminate() }
        try await second.waitUntilListening()
        var manifest: TestResponse?
        let finishBy = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < finishBy {
            try await Task.sleep(for: .milliseconds(1100))
            let poll = try await second.client.send("GET", status, token: .some(token))
            if poll.status == 200 { manifest = poll; break }
            #expect(poll.status == 202, "\(poll.status): \(poll.body)")
        }
        let done = try #require(manifest, "the job finished on the second replica")
        let transactionTime = try #require(ExportTests.instant(done.json["transactionTime"] as? String ?? ""))

        var exported: [String: [String]] = [:]
        for output in done.json["output"] as? [[String: Any]] ?? [] {
            let url = relative(try #require(output["url"] as? String))
            let file = try await second.client.send("GET", url, token: .some(token))
            expectStatus(file, 200)
            for line in file.body.split(separator: "\n") {
                let resource = String(line).jsonObject
                exported[resource["resourceType"] as? String ?? "?", default: []].append(resource["id"] as? String ?? "?")
            }
        }
        // Ground truth: every id a search finds, page by page, as of the transaction time.
        for type in ["Patient", "Encounter"] {
            var expected: [String] = []
            var next: String? = "/acme/r4/\(type)?_lastUpdated=lt\(ExportTests.iso(transactionTime.addingTimeInterval(1)))&_count=50"
            while let page = next {
                let answer = try await second.client.send("GET", page, token: .some(token))
                expectStatus(answer, 200)
                expected += answer.matchIDs
                next = answer.link("next").map(relative)
            }
            #expect(exported[type]?.count == expected.count, "\(type): no duplicate, no gap")
            #expect(exported[type]?.sorted() == expected.sorted(), "\(type): the same resources")
        }
        #expect(writtenAtKill < exported.values.map(\.count).reduce(0, +), "the kill came before the end")
    }
}
