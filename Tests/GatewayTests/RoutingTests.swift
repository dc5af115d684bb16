import Foundation
import Testing

@Suite struct RoutingTests {
    @Test func pathTricksNeverReachATenant() async throws {
        let fixture = try await GatewayFixture.shared(.sqlite)
        let token = fixture.token("acme")
        let id = GatewayFixture.patientID("acme", 1)
        try await fixture.withClient { client in
            for path in ["/%2e/r4/Patient/\(id)", "/../r4/Patient/\(id)", "//r4/Patient/\(id)", "/r4/Patient/\(id)", "/acme/%72%34/Patient/\(id)",
                         "/ACME/r4/Patient/\(id)", "/acme/r4/../r4/Patient/\(id)", "/acme/r4/Patient/%2e%2e", "/acme%2fr4/Patient", "/"] {
                let response = try await client.get(path, token: token)
                #expect([400, 404].contains(response.status), "\(path) gave \(response.status)")
                #expect(response.json["resourceType"] as? String == "OperationOutcome", "\(path)")
            }
            let unknown = try await client.get("/nosuchtenant/r4/Patient", token: token)
            #expect(unknown.status == 404)
            #expect(unknown.issueCode == "not-found")
        }
    }

    @Test func suspendedTenantServesMetadataButNoData() async throws {
        let fixture = try await GatewayFixture.shared(.sqlite)
        try await fixture.withClient { client in
            expectStatus(try await client.get("/umbrella/r4/metadata"), 200)
            let data = try await client.get("/umbrella/r4/Patient", token: fixture.token("umbrella"))
            #expect(data.status == 403)
            #expect(data.issueCode == "forbidden")
        }
    }

    @Test func contentNegotiationAndRequestIDs() async throws {
        let fixture = try await GatewayFixture.shared(.sqlite)
        let token = fixture.token("acme")
        try await fixture.withClient { client in
            let xml = try await client.get("/acme/r4/Patient?_format=xml", token: token)
            #expect(xml.status == 406)
            let acceptXML = try await client.get("/acme/r4/Patient", token: token, headers: ["Accept": "application/fhir+xml"])
            #expect(acceptXML.status == 406)
            let json = try await client.get("/acme/r4/Patient?_count=1", token: token, headers: ["Accept": "application/json", "X-Request-Id": "trace-123"])
            #expect(json.status == 200)
            #expect(json.header("Content-Type") == "application/json; charset=utf-8")
            #expect(json.header("X-Request-Id") == "trace-123")
            let generated = try await client.get("/acme/r4/Patient?_count=1", token: token, headers: ["X-Request-Id": "bad id with spaces"])
            #expect(generated.header("X-Request-Id")?.count == 36)
            let health = try await client.get("/healthz")
            #expect(health.status == 200)
            let ready = try await client.get("/readyz")
            #expect(ready.status == 200)
            let create = try await client.send("/acme/r4/Patient", method: .post, token: token, body: "{}")
            #expect(create.status == 405)
            let unknownType = try await client.get("/acme/r4/Condition", token: token)
            #expect(unknownType.status == 404)
            let disabledType = try await client.get("/globex/r4/MedicationRequest", token: fixture.token("globex"))
            #expect(disabledType.status == 404)
        }
    }

    @Test func corsIsPerTenantAndPreflightNeedsNoToken() async throws {
        let fixture = try await GatewayFixture.shared(.sqlite)
        try await fixture.withClient { client in
            let preflight = try await client.send("/acme/r4/Patient", method: .options,
                                                  headers: ["Origin": "https://app.acme.test", "Access-Control-Request-Method": "GET",
                                                            "Access-Control-Request-Headers": "authorization"])
            expectStatus(preflight, 204)
            #expect(preflight.header("Access-Control-Allow-Origin") == "https://app.acme.test")
            #expect(preflight.header("Access-Control-Allow-Headers")?.contains("Authorization") == true)
            #expect(preflight.header("Access-Control-Allow-Credentials") == nil)
            let stranger = try await client.send("/acme/r4/Patient", method: .options, headers: ["Origin": "https://evil.test", "Access-Control-Request-Method": "GET"])
            #expect(stranger.header("Access-Control-Allow-Origin") == nil)
            let actual = try await client.get("/acme/r4/Patient?_count=1", token: fixture.token("acme"), headers: ["Origin": "https://app.acme.test"])
            expectStatus(actual, 200)
            #expect(actual.header("Access-Control-Allow-Origin") == "https://app.acme.test")
            #expect(actual.header("Access-Control-Expose-Headers")?.contains("ETag") == true)
            let refused = try await client.get("/acme/r4/Patient?_count=1", headers: ["Origin": "https://app.acme.test"])
            expectStatus(refused, 401)
            #expect(refused.header("Access-Control-Allow-Origin") == "https://app.acme.test", "errors are readable by the allowed app")
            let otherTenant = try await client.send("/globex/r4/Patient", method: .options, headers: ["Origin": "https://app.acme.test", "Access-Control-Request-Method": "GET"])
            #expect(otherTenant.header("Access-Control-Allow-Origin") == nil, "acme's origins do not open globex")
            let metadata = try await client.get("/acme/r4/metadata")
            #expect(((metadata.json["rest"] as? [[String: Any]])?.first?["security"] as? [String: Any])?["cors"] as? Bool == true)
        }
    }

    @Test func metricsCountRequestsWithoutPHI() async throws {
        let fixture = try await GatewayFixture.shared(.sqlite)
        let patient = GatewayFixture.patientID("acme", 2)
        try await fixture.withClient { client in
            expectStatus(try await client.get("/acme/r4/Patient/\(patient)", token: fixture.token("acme")), 200)
            expectStatus(try await client.get("/acme/r4/Patient?family=smith", token: fixture.token("acme")), 200)
            expectStatus(try await client.get("/acme/r4/Patient/\(patient)", token: "garbage"), 401)
            let metrics = try await client.get("/metrics")
            expectStatus(metrics, 200)
            #expect(metrics.header("Content-Type")?.hasPrefix("text/plain") == true)
            #expect(metrics.body.contains(#"fhir_gateway_requests_total{tenant="acme",interaction="read",resource_type="Patient",status_class="2xx"} 1"#))
            #expect(metrics.body.contains(#"fhir_gateway_token_failures_total{tenant="acme",reason="malformed"} 1"#))
            #expect(metrics.body.contains("fhir_gateway_request_duration_seconds_bucket"))
            #expect(metrics.body.contains("fhir_gateway_db_calls_in_flight "))
            #expect(metrics.body.contains("fhir_gateway_db_pool_max_connections"))
            #expect(!metrics.body.contains(patient) && !metrics.body.lowercased().contains("smith"), "labels never carry PHI")
        }
    }
}
