import FHIRModels
import Foundation
import Testing

/// A replica killed (SIGKILL) in the middle of an export leaves a job another replica resumes
/// from its last checkpoint: the output holds every resource exactly once.
@Suite struct ExportResumeTests {
    @Test(.enabled(if: StoreKind.postgresURL != nil))
    func aJobSurvivesTheReplicaRunningIt() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: ReplicaTests.binary), "build the gateway first (swift build --build-tests)")
        let fixture = try await GatewayFixture.shared(.postgres)
        try await fixture.withClient { _ in }  // the configuration's tenants are in the registry the replicas read
        let directory = try GatewayFixture.makeDirectory()
        // Same files and key-encryption key as every application on this store; paced so the kill lands mid-job.
        let export = """
            export:
              directory: \(fixture.directory)/exports
              key_encryption_key_file: \(fixture.directory)/export.kek
              resources_per_second: 40
              lease_seconds: 2
              poll_seconds: 1
            """
        let token = fixture.token("acme", claims: ["azp": .string("resume-test-\(UUID().uuidString.prefix(8))")])
        let first = try ReplicaTests.Replica(fixture: fixture, directory: directory, name: "first", admin: false, extra: export)
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
        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()

        let second = try ReplicaTests.Replica(fixture: fixture, directory: directory, name: "second", admin: false, extra: export)
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
        let output = exported
        try await fixture.withClient { client in
            for type in ["Patient", "Encounter"] {
                var expected: [String] = []
                var next: String? = "/acme/r4/\(type)?_lastUpdated=lt\(ExportTests.iso(transactionTime.addingTimeInterval(1)))&_count=50"
                while let page = next {
                    let answer = try await client.get(page, token: token)
                    expectStatus(answer, 200)
                    expected += answer.matchIDs
                    next = answer.link("next").map(relative)
                }
                #expect(output[type]?.count == expected.count, "\(type): no duplicate, no gap")
                #expect(output[type]?.sorted() == expected.sorted(), "\(type): the same resources")
            }
        }
        #expect(writtenAtKill < exported.values.map(\.count).reduce(0, +), "the kill came before the end")
    }
}
