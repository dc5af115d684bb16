import FHIRModels
import Foundation
import GatewayConfig
import HummingbirdTesting
import Testing

/// Export jobs over time, on a store of their own with paced jobs (so a job is still running when
/// the test acts): polling faster than told, the per-client and per-tenant caps, cancelling.
@Suite struct ExportJobTests {
    static func pacedFixture() async throws -> GatewayFixture {
        try await GatewayFixture.isolated { configuration in
            configuration.export.resourcesPerSecond = 40
            configuration.export.pollSeconds = 2
            var limits = configuration.tiers[.enterprise] ?? TenantLimits()
            limits.exportJobs = 2
            limits.exportJobsPerClient = 1
            limits.export = RateLimit(rate: 0.001, burst: 5)
            configuration.tiers[.enterprise] = limits
        }
    }

    @Test func pollsCapsAndCancellation() async throws {
        let fixture = try await Self.pacedFixture()
        let first = fixture.token("acme", claims: ["azp": .string("ehr-one")])
        let second = fixture.token("acme", claims: ["azp": .string("ehr-two")])
        let third = fixture.token("acme", claims: ["azp": .string("ehr-three")])
        try await fixture.withClient { client in
            let kickOff = try await BulkClient(client: client, token: first).kickOff("/acme/r4/$export?_type=Patient")
            expectStatus(kickOff, 202)
            let location = relative(try #require(kickOff.header("Content-Location")))

            // A poll, then one sooner than Retry-After: 202 with progress, then 429 saying how long to wait.
            let poll = try await client.get(location, token: first)
            expectStatus(poll, 202, "\(poll.body)")
            #expect(poll.header("Retry-After") == "2")
            #expect(poll.header("X-Progress") != nil)
            let tooSoon = try await client.get(location, token: first)
            expectStatus(tooSoon, 429)
            #expect(tooSoon.issueCode == "throttled")
            #expect(Int(tooSoon.header("Retry-After") ?? "") ?? 0 >= 1)

            // One job per client, two per tenant: the same client again and a third client are refused with Retry-After.
            let again = try await BulkClient(client: client, token: first).kickOff("/acme/r4/$export?_type=Patient")
            expectStatus(again, 429)
            #expect(again.header("Retry-After") != nil)
            #expect(again.body.contains("this client"))
            let other = try await BulkClient(client: client, token: second).kickOff("/acme/r4/$export?_type=Patient")
            expectStatus(other, 202)
            let full = try await BulkClient(client: client, token: third).kickOff("/acme/r4/$export?_type=Patient")
            expectStatus(full, 429)
            #expect(full.body.contains("the tenant"))
            // Another tenant is not held back by acme's jobs.
            expectStatus(try await BulkClient(client: client, token: fixture.token("initech")).kickOff("/initech/r4/$export?_type=Patient"), 202)

            // Cancelling: 202, then the job is gone for polls and cancels alike, and the client may start another.
            expectStatus(try await client.send(location, method: .delete, token: first), 202)
            expectStatus(try await client.get(location, token: first), 404)
            expectStatus(try await client.send(location, method: .delete, token: first), 404)
            expectStatus(try await BulkClient(client: client, token: first).kickOff("/acme/r4/$export?_type=Organization"), 202)

            // The export rate (5 at once here) counts kick-offs that could create a job; mistakes do not spend it.
            let mistake = try await BulkClient(client: client, token: second).kickOff("/acme/r4/$export?_type=Nope")
            expectStatus(mistake, 400)
            let throttled = try await BulkClient(client: client, token: third).kickOff("/acme/r4/$export?_type=Organization")
            expectStatus(throttled, 429)
            #expect(throttled.body.contains("export rate limit"))
            #expect(throttled.header("RateLimit-Policy")?.contains("\"export\"") == true)
        }
    }

    /// A job reads as of one instant, fixed when it starts: a result posted while it runs is not in
    /// it (the next export with `_since` = its transaction time has it), and the manifest says when.
    @Test func aJobReadsAsOfTheInstantItStarted() async throws {
        let fixture = try await Self.pacedFixture()
        let writer = fixture.token("acme", scope: LabWriteTests.writer)
        let reader = fixture.token("acme", claims: ["azp": .string("ehr-snapshot")])
        try await fixture.withClient { client in
            let patient = GatewayFixture.patientID("acme", 4)
            var before: Set<String> = []
            for code in ["718-7", "789-8"] {
                let posted = try await LabWriteTests.post(client, "acme", "Observation", LabFixtures.observation(patient: patient, code: code), token: writer)
                before.insert(try #require(posted.json["id"] as? String))
            }
            // A job reads as of the last whole second before it starts.
            try await Task.sleep(for: .milliseconds(1100))
            let bulk = BulkClient(client: client, token: reader)
            let kickOff = try await bulk.kickOff("/acme/r4/$export?_type=Patient,Encounter,Observation")
            expectStatus(kickOff, 202)
            let location = relative(try #require(kickOff.header("Content-Location")))
            // Wait until the job runs (its instant is fixed), then write.
            var running = false
            for _ in 0..<20 where !running {
                try await Task.sleep(for: .milliseconds(2100))
                running = (try await client.get(location, token: reader).header("X-Progress") ?? "").hasPrefix("running")
            }
            #expect(running)
            let late = try await LabWriteTests.post(client, "acme", "Observation", LabFixtures.observation(patient: patient, code: "4544-3"), token: writer)
            let lateID = try #require(late.json["id"] as? String)
            let done = try await bulk.finish("https://fhir.test" + location)
            expectStatus(done, 200)
            let transactionTime = try #require(ExportTests.instant(done.json["transactionTime"] as? String ?? ""))
            let lastUpdated = try #require(ExportTests.instant(((late.json["meta"] as? [String: Any])?["lastUpdated"] as? String) ?? ""))
            #expect(transactionTime < lastUpdated, "the late result was written after the job's instant")
            var exported: Set<String> = []
            for output in done.json["output"] as? [[String: Any]] ?? [] where output["type"] as? String == "Observation" {
                for line in try await bulk.download(try #require(output["url"] as? String)).1 { exported.insert(line.jsonObject["id"] as? String ?? "") }
            }
            #expect(before.isSubset(of: exported))
            #expect(!exported.contains(lateID))
            // The next export from that instant has it.
            let next = try await BulkClient(client: client, token: fixture.token("acme", claims: ["azp": .string("ehr-next")]))
                .export("/acme/r4/$export?_type=Observation&_since=\(ExportTests.iso(transactionTime))")
            #expect(next.files.flatMap(\.lines).contains { $0.jsonObject["id"] as? String == lateID })
        }
    }
}
