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
}
