import FHIRModels
import Foundation
import GatewayApp
import GatewayAuth
import GatewayConfig
@testable import GatewayStore
import HummingbirdTesting
import Logging
import Testing

/// The admin API on its own listener, on both stores: registry changes, idempotency, bad input,
/// admin tokens, suspension and the BAA gate, rate limits, quotas, offboarding, the admin chain.
@Suite struct AdminAPITests {
    /// A fresh tenant slug, seeded in the HMS with a few patients (so its data routes can answer).
    static func seededTenant(_ fixture: GatewayFixture, prefix: String, patients: Int = 3) async throws -> String {
        let slug = "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
        _ = try await HMSSeeder(repository: fixture.repository, batchSize: 25).seed(tenants: [(slug, slug.capitalized)], patientsPerTenant: patients,
                                                                                   logger: testLogger)
        return slug
    }

    static func document(_ slug: String, tier: String = "starter", extra: String = "") -> String {
        """
        {"name": "\(slug) Health", "tier": "\(tier)", "issuer": "development", "audience": "https://fhir.test/\(slug)/r4",
         "baa": {"version": "2026-05", "signed": "2026-05-01", "expires": "2099-04-30"}\(extra)}
        """
    }

    /// Runs `body` with the in-process FHIR client and a real admin listener over the shared store.
    static func withAdmin(_ store: StoreKind, logger: Logger = testLogger,
                          _ body: @Sendable (GatewayFixture, any TestClientProtocol, AdminClient) async throws -> Void) async throws {
        let fixture = try await GatewayFixture.shared(store)
        var configuration = fixture.configuration
        configuration.admin.enabled = true
        configuration.admin.port = try #require(ObservabilityTests.freePort())
        configuration.server.registryPollMilliseconds = 100
        let token = try fixture.developmentIssuer.mintAdminToken(audience: configuration.admin.audience, scope: "gateway/admin", subject: "ops-alice")
        let admin = AdminClient(port: configuration.admin.port, token: token)
        let application = try await GatewayApplication.build(configuration: configuration, repository: fixture.repository, logger: logger)
        try await application.test(.router) { client in
            try await admin.waitUntilListening()
            try await body(fixture, client, admin)
        }
    }

    static func tenantToken(_ fixture: GatewayFixture, _ slug: String, scope: String = "system/*.rs") throws -> String {
        try fixture.developmentIssuer.mintToken(tenant: slug, audience: "https://fhir.test/\(slug)/r4", scope: scope)
    }

    @Test(arguments: StoreKind.available)
    func putCreatesChangesAndLeavesUnchanged(store: StoreKind) async throws {
        try await Self.withAdmin(store) { fixture, client, admin in
            let slug = try await Self.seededTenant(fixture, prefix: "put")
            let created = try await admin.send("PUT", "/admin/tenants/\(slug)", body: Self.document(slug))
            expectStatus(created, 201)
            #expect(created.header("Location") == "/admin/tenants/\(slug)")
            #expect(created.json["tier"] as? String == "starter")
            // In force on this replica at once: metadata renders, the first data request is served.
            expectStatus(try await client.get("/\(slug)/r4/metadata"), 200)
            let first = try await client.get("/\(slug)/r4/Patient?_count=5", token: try Self.tenantToken(fixture, slug))
            expectStatus(first, 200)
            #expect(first.resources.count == 3)

            let same = try await admin.send("PUT", "/admin/tenants/\(slug)", body: Self.document(slug))
            expectStatus(same, 200)
            #expect(same.header("X-Registry-Outcome") == "unchanged")
            let changed = try await admin.send("PUT", "/admin/tenants/\(slug)", body: Self.document(slug, tier: "professional"))
            expectStatus(changed, 200)
            #expect(changed.header("X-Registry-Outcome") == "changed")
            let read = try await admin.send("GET", "/admin/tenants/\(slug)")
            #expect(read.json["tier"] as? String == "professional")
            let listed = try await admin.send("GET", "/admin/tenants?tier=professional&_count=1000")
            #expect((listed.json["tenants"] as? [[String: Any]])?.contains { $0["slug"] as? String == slug } == true)
            let starters = try await admin.send("GET", "/admin/tenants?tier=starter&_count=1000")
            #expect((starters.json["tenants"] as? [[String: Any]])?.contains { $0["slug"] as? String == slug } == false)
        }
    }

    @Test(arguments: StoreKind.available)
    func sixteenIdenticalConcurrentPutsCreateOneTenant(store: StoreKind) async throws {
        try await Self.withAdmin(store) { fixture, _, admin in
            let slug = try await Self.seededTenant(fixture, prefix: "race")
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<16 { group.addTask { try await admin.send("PUT", "/admin/tenants/\(slug)", body: Self.document(slug)).status } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 201 }.count == 1, "\(statuses)")
            #expect(statuses.filter { $0 == 200 }.count == 15, "\(statuses)")
            let trail = try await fixture.repository.auditEvents(tenantID: HMSRepository.adminChainTenantID, after: 0, limit: 100_000)
            let records = trail.filter { ($0.string("body") ?? "").contains(slug) }
            #expect(records.count == 1, "one admin record for one change")
        }
    }

    @Test(arguments: StoreKind.available)
    func badInputIsRefusedAndChangesNothing(store: StoreKind) async throws {
        try await Self.withAdmin(store) { fixture, _, admin in
            let slug = try await Self.seededTenant(fixture, prefix: "bad")
            expectStatus(try await admin.send("PUT", "/admin/tenants/\(slug)", body: Self.document(slug)), 201)
            let before = try await admin.send("GET", "/admin/tenants/\(slug)").body
            let cases: [(method: String, path: String, body: String, contentType: String, status: Int)] = [
                ("PUT", "/admin/tenants/\(slug)", Self.document(slug, extra: #", "colour": "red""#), "application/json", 400),
                ("PUT", "/admin/tenants/\(slug)", Self.document(slug, tier: "platinum"), "application/json", 400),
                ("PUT", "/admin/tenants/\(slug)", #"{"name": "x", "issuer": "development"}"#, "application/json", 400),
                ("PUT", "/admin/tenants/\(slug)", Self.document(slug, extra: #", "jwks_file": "/etc/passwd""#), "application/json", 400),
                ("PUT", "/admin/tenants/\(slug)", #"{"name": "x", "issuer": "https://idp.x", "audience": "a", "jwks": {"keys": [{"kty": "oct", "kid": "k", "k": "c2VjcmV0"}]}}"#, "application/json", 400),
                ("PUT", "/admin/tenants/\(slug)", Self.document(slug, extra: #", "limits": {"read": {"rate": -1}}"#), "application/json", 400),
                ("PUT", "/admin/tenants/\(slug)", Self.document(slug, extra: #", "slug": "someone-else""#), "application/json", 400),
                ("PUT", "/admin/tenants/\(slug)", #"["not", "an", "object"]"#, "application/json", 400),
                ("PUT", "/admin/tenants/\(slug)", "{\"name\": \"x\u{0}\"", "application/json", 400),
                ("PUT", "/admin/tenants/\(slug)", Self.document(slug), "text/plain", 415),
                ("PUT", "/admin/tenants/\(slug)", "{\"name\": \"" + String(repeating: "x", count: 70_000) + "\"}", "application/json", 413),
                ("PATCH", "/admin/tenants/\(slug)", #"{"baa": {"version": "1", "signed": "2026-05-01", "expires": "2025-01-01"}}"#, "application/merge-patch+json", 400),
                ("PATCH", "/admin/tenants/\(slug)", #"{"status": "deleted"}"#, "application/merge-patch+json", 400),
                ("PUT", "/admin/tenants/Not_A_Slug", Self.document("x"), "application/json", 400),
                ("PUT", "/admin/tenants/\(String(repeating: "a", count: 64))", Self.document("x"), "application/json", 400),
                ("POST", "/admin/tenants/\(slug)", Self.document(slug), "application/json", 405),
                ("PATCH", "/admin/tenants/never-registered", #"{"tier": "starter"}"#, "application/json", 404),
            ]
            for item in cases {
                let response = try await admin.send(item.method, item.path, body: item.body, contentType: item.contentType)
                expectStatus(response, item.status, "\(item.method) \(item.path) \(item.body.prefix(80))")
                #expect(response.json["resourceType"] as? String == "OperationOutcome")
            }
            #expect(try await admin.send("GET", "/admin/tenants/\(slug)").body == before, "nothing changed")
            expectStatus(try await admin.send("GET", "/admin/tenants?_count=0"), 400)
            expectStatus(try await admin.send("GET", "/admin/tenants?tier=gold"), 400)
            expectStatus(try await admin.send("GET", "/admin/tenants?sort=name"), 400)
            expectStatus(try await admin.send("GET", "/acme/r4/metadata"), 404, "no tenant path on the admin listener")
        }
    }

    @Test func theAdminLogNamesRoutesNeverWhatTheClientTyped() async throws {
        let logs = CapturedLogs()
        try await Self.withAdmin(.sqlite, logger: logs.logger) { _, _, admin in
            for path in ["/admin/tenants/Jane%20Doe%201970-01-01", "/admin/tenants/acme/Jane-Doe", "/admin/Jane-Doe", "/admin/tenants/acme/suspend"] {
                _ = try await admin.send("GET", path, token: .some(nil))
            }
        }
        let routes = logs.lines("admin request").compactMap { $0["http.route"] }
        let allowed: Set<String> = ["/admin/tenants", "/admin/tenants/{slug}", "/admin/tenants/{slug}/{other}", "/admin/tenants/{slug}/suspend",
                                    "/admin/tenants/{slug}/resume", "other"]
        #expect(routes.count >= 4 && Set(routes).isSubset(of: allowed), "\(routes)")
        #expect(!routes.contains { $0.contains("Jane") || $0.contains("1970") })
        #expect(routes.contains("/admin/tenants/{slug}/{other}"))
    }

    @Test(arguments: StoreKind.available)
    func onlyAdminTokensWithTheAdminScopeAreAccepted(store: StoreKind) async throws {
        try await Self.withAdmin(store) { fixture, _, admin in
            expectStatus(try await admin.send("GET", "/admin/tenants", token: .some(nil)), 401)
            expectStatus(try await admin.send("GET", "/admin/tenants", token: .some(fixture.token("initech"))), 401, "a tenant's token has another audience")
            let noScope = try fixture.developmentIssuer.mintAdminToken(audience: fixture.configuration.admin.audience, scope: "system/*.rs", subject: "x")
            let refused = try await admin.send("GET", "/admin/tenants", token: .some(noScope))
            expectStatus(refused, 403)
            #expect(refused.issueCode == "forbidden")
            let expired = try fixture.developmentIssuer.mintAdminToken(audience: fixture.configuration.admin.audience, scope: "gateway/admin",
                                                                       subject: "x", ttlSeconds: 1, now: GatewayFixture.now - 3600)
            expectStatus(try await admin.send("GET", "/admin/tenants", token: .some(expired)), 401)
        }
    }

    @Test(arguments: StoreKind.available)
    func suspensionAndTheAgreementGateTakeEffectAtOnce(store: StoreKind) async throws {
        try await Self.withAdmin(store) { fixture, client, admin in
            let slug = try await Self.seededTenant(fixture, prefix: "baa")
            let token = try Self.tenantToken(fixture, slug)
            expectStatus(try await admin.send("PUT", "/admin/tenants/\(slug)", body: Self.document(slug)), 201)
            expectStatus(try await client.get("/\(slug)/r4/Patient", token: token), 200)

            expectStatus(try await admin.send("POST", "/admin/tenants/\(slug)/suspend"), 200)
            let suspended = try await client.get("/\(slug)/r4/Patient", token: token)
            expectStatus(suspended, 403)
            #expect(suspended.body.contains("suspended"))
            expectStatus(try await admin.send("POST", "/admin/tenants/\(slug)/resume"), 200)
            expectStatus(try await client.get("/\(slug)/r4/Patient", token: token), 200)

            for agreement in [#"null"#, #"{"version": "1", "signed": "2020-01-01", "expires": "2020-12-31"}"#,
                              #"{"version": "1", "signed": "2099-01-01", "expires": null}"#] {
                expectStatus(try await admin.send("PATCH", "/admin/tenants/\(slug)", body: #"{"baa": \#(agreement)}"#,
                                                  contentType: "application/merge-patch+json"), 200)
                let refused = try await client.get("/\(slug)/r4/Patient", token: token)
                expectStatus(refused, 403, "\(agreement)")
                #expect(refused.issueCode == "forbidden")
                #expect(refused.body.contains("business associate agreement is not in force"))
                expectStatus(try await client.get("/\(slug)/r4/metadata"), 200, "metadata is not PHI")
                expectStatus(try await client.get("/\(slug)/r4/.well-known/smart-configuration"), 200)
            }
            expectStatus(try await admin.send("PATCH", "/admin/tenants/\(slug)", body: #"{"baa": {"version": "2", "signed": "2026-01-01", "expires": null}}"#), 200)
            expectStatus(try await client.get("/\(slug)/r4/Patient", token: token), 200)
        }
    }

    @Test(arguments: StoreKind.available)
    func overTheRateLimitIsA429ThatNeverReachesTheDatabase(store: StoreKind) async throws {
        try await Self.withAdmin(store) { fixture, client, admin in
            let slug = try await Self.seededTenant(fixture, prefix: "rate")
            let token = try Self.tenantToken(fixture, slug)
            expectStatus(try await admin.send("PUT", "/admin/tenants/\(slug)",
                                              body: Self.document(slug, extra: #", "limits": {"read": {"rate": 0.01, "burst": 3}}"#)), 201)
            let tenantID = try #require(try await fixture.repository.hmsTenantIDs(slugs: [slug])[slug])
            let patient = try #require(try await client.get("/\(slug)/r4/Patient?_count=1", token: token).resources.first?["id"] as? String)
            let auditedBefore = try await fixture.repository.gatewayRowCounts(tenantID: tenantID).auditRecords
            var statuses: [Int] = []
            var last: TestResponse?
            for _ in 0..<5 {
                let response = try await client.get("/\(slug)/r4/Patient/\(patient)", token: token)
                statuses.append(response.status)
                last = response
                if response.status == 200 {
                    #expect(response.header("RateLimit-Policy") == "\"read\";q=3;w=300")
                    #expect(response.header("RateLimit")?.hasPrefix("\"read\";r=") == true)
                }
            }
            #expect(statuses == [200, 200, 200, 429, 429])
            let refused = try #require(last)
            #expect(refused.issueCode == "throttled")
            #expect(Int(refused.header("Retry-After") ?? "") ?? 0 >= 1)
            #expect(refused.header("RateLimit") == "\"read\";r=0;t=\(refused.header("Retry-After") ?? "")")
            #expect(refused.header("RateLimit-Policy") == "\"read\";q=3;w=300")
            let auditedAfter = try await fixture.repository.gatewayRowCounts(tenantID: tenantID).auditRecords
            #expect(auditedAfter - auditedBefore == 3, "the three served reads are audited; the refusals never reached the store")
            // Searches have a bucket of their own, and another tenant is untouched.
            expectStatus(try await client.get("/\(slug)/r4/Patient?_count=1", token: token), 200)
            expectStatus(try await client.get("/initech/r4/Patient?_count=1", token: fixture.token("initech")), 200)
        }
    }

    @Test(arguments: StoreKind.available)
    func theStorageQuotaWarnsThenRefusesCreatesWhileReadsGoOn(store: StoreKind) async throws {
        try await Self.withAdmin(store) { fixture, client, admin in
            let slug = try await Self.seededTenant(fixture, prefix: "quota")
            let token = try Self.tenantToken(fixture, slug, scope: "system/*.cruds")
            expectStatus(try await admin.send("PUT", "/admin/tenants/\(slug)",
                                              body: Self.document(slug, extra: #", "limits": {"stored_resources": {"soft": 1, "hard": 2}}"#)), 201)
            let patient = try #require(try await client.get("/\(slug)/r4/Patient?_count=1", token: token).resources.first?["id"] as? String)
            func observation(_ code: String) -> String {
                #"{"resourceType": "Observation", "status": "final", "code": {"text": "\#(code)"}, "subject": {"reference": "Patient/\#(patient)"}}"#
            }
            var ids: [String] = []
            for code in ["a", "b"] {
                let created = try await client.send("/\(slug)/r4/Observation", method: .post, token: token,
                                                    headers: ["Content-Type": "application/fhir+json"], body: observation(code))
                expectStatus(created, 201)
                ids.append(created.json["id"] as? String ?? "")
            }
            let refused = try await client.send("/\(slug)/r4/Observation", method: .post, token: token,
                                                headers: ["Content-Type": "application/fhir+json"], body: observation("c"))
            expectStatus(refused, 403)
            #expect(refused.issueCode == "business-rule")
            #expect(refused.body.contains("storage quota"))
            expectStatus(try await client.get("/\(slug)/r4/Observation/\(ids[0])", token: token), 200, "reads go on")
            let count = try await fixture.repository.storedResourceCount(tenantID: try #require(try await fixture.repository.hmsTenantIDs(slugs: [slug])[slug]))
            #expect(count == 2, "nothing stored past the hard limit")
            // Raising the quota lets creates through at once.
            expectStatus(try await admin.send("PATCH", "/admin/tenants/\(slug)", body: #"{"limits": {"stored_resources": {"hard": 10}}}"#), 200)
            expectStatus(try await client.send("/\(slug)/r4/Observation", method: .post, token: token,
                                               headers: ["Content-Type": "application/fhir+json"], body: observation("c")), 201)
        }
    }

    @Test(arguments: StoreKind.available)
    func deleteRefusesWhileDataRemainsAndPurgeRemovesEveryRow(store: StoreKind) async throws {
        try await Self.withAdmin(store) { fixture, client, admin in
            let slug = try await Self.seededTenant(fixture, prefix: "gone")
            let token = try Self.tenantToken(fixture, slug, scope: "system/*.cruds")
            expectStatus(try await admin.send("PUT", "/admin/tenants/\(slug)", body: Self.document(slug)), 201)
            let patient = try #require(try await client.get("/\(slug)/r4/Patient?_count=1", token: token).resources.first?["id"] as? String)
            expectStatus(try await client.send("/\(slug)/r4/Observation", method: .post, token: token, headers: ["Content-Type": "application/fhir+json"],
                                               body: #"{"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": {"reference": "Patient/\#(patient)"}}"#), 201)
            let tenantID = try #require(try await fixture.repository.hmsTenantIDs(slugs: [slug])[slug])
            let conflict = try await admin.send("DELETE", "/admin/tenants/\(slug)")
            expectStatus(conflict, 409)
            #expect(conflict.body.contains("purge=true"))
            expectStatus(try await client.get("/\(slug)/r4/Patient", token: token), 200, "a refused delete changes nothing")
            expectStatus(try await admin.send("DELETE", "/admin/tenants/\(slug)?purge=maybe"), 400)

            let purged = try await admin.send("DELETE", "/admin/tenants/\(slug)?purge=true")
            expectStatus(purged, 200)
            let counts = try await fixture.repository.gatewayRowCounts(tenantID: tenantID)
            #expect(counts.storedResources == 0 && counts.auditRecords == 0)
            expectStatus(try await admin.send("GET", "/admin/tenants/\(slug)"), 404)
            expectStatus(try await client.get("/\(slug)/r4/Patient", token: token), 404, "an offboarded tenant is unknown")
            expectStatus(try await admin.send("DELETE", "/admin/tenants/\(slug)"), 404)
            // The slug can be registered again.
            expectStatus(try await admin.send("PUT", "/admin/tenants/\(slug)", body: Self.document(slug)), 201)
            // Every change is in the admin chain, which verifies.
            let trail = try await fixture.repository.auditEvents(tenantID: HMSRepository.adminChainTenantID, after: 0, limit: 1_000_000)
            let mine = trail.filter { ($0.string("body") ?? "").contains("\"value\":\"\(slug)\"") }.compactMap { $0.string("subtype") }
            #expect(mine == ["tenant-put", "tenant-delete", "tenant-put"], "\(mine)")
            let deletion = try #require(trail.last { $0.string("subtype") == "tenant-delete" && ($0.string("body") ?? "").contains(slug) })
            #expect(deletion.string("agent") == "ops-alice")
            #expect(deletion.string("body")?.contains("purged 1 stored resources") == true)
            let verified = try await fixture.repository.verifyAudit(tenantID: HMSRepository.adminChainTenantID)
            #expect(verified.firstBreak == nil)
        }
    }
}
