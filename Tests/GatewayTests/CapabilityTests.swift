import Foundation
import Testing

@Suite struct CapabilityTests {
    @Test func eachTenantGetsItsOwnCapabilityStatement() async throws {
        let fixture = try await GatewayFixture.shared(.sqlite)
        try await fixture.withClient { client in
            let acme = try await client.get("/acme/r4/metadata")
            let globex = try await client.get("/globex/r4/metadata")
            expectStatus(acme, 200)
            expectStatus(globex, 200)
            #expect(acme.header("Content-Type") == "application/fhir+json; charset=utf-8")
            #expect(acme.json["fhirVersion"] as? String == "4.0.1")
            #expect((acme.json["implementation"] as? [String: Any])?["url"] as? String == "https://fhir.test/acme/r4")
            #expect((globex.json["implementation"] as? [String: Any])?["url"] as? String == "https://fhir.test/globex/r4")
            #expect(acme.json["publisher"] as? String == "Acme Health Group")

            func resources(_ response: TestResponse) -> [[String: Any]] {
                (((response.json["rest"] as? [[String: Any]])?.first)?["resource"] as? [[String: Any]]) ?? []
            }
            let acmeTypes = resources(acme).compactMap { $0["type"] as? String }
            let globexTypes = resources(globex).compactMap { $0["type"] as? String }
            #expect(acmeTypes == ["Patient", "Practitioner", "Encounter", "MedicationRequest", "Organization", "Observation", "DiagnosticReport", "AuditEvent", "Group"])
            #expect(globexTypes == ["Patient", "Practitioner", "Encounter", "Organization", "AuditEvent", "Group"])
            // Bulk Data: system, Patient and Group exports are declared; a Group is a hospital's registered patients.
            #expect((acme.json["instantiates"] as? [String]) == ["http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"])
            let systemOperations = (((acme.json["rest"] as? [[String: Any]])?.first)?["operation"] as? [[String: Any]]) ?? []
            #expect(systemOperations.contains { $0["definition"] as? String == "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export" })
            let group = try #require(resources(acme).first { $0["type"] as? String == "Group" })
            #expect((group["documentation"] as? String)?.contains("registered") == true)
            #expect(((group["operation"] as? [[String: Any]])?.first?["definition"] as? String)?.hasSuffix("group-export") == true)
            let patientOperations = (resources(acme).first { $0["type"] as? String == "Patient" }?["operation"] as? [[String: Any]]) ?? []
            #expect(patientOperations.contains { ($0["definition"] as? String)?.hasSuffix("patient-export") == true })
            let acmePatient = try #require(resources(acme).first { $0["type"] as? String == "Patient" })
            #expect((acmePatient["supportedProfile"] as? [String]) == ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"])
            let globexPatient = try #require(resources(globex).first { $0["type"] as? String == "Patient" })
            #expect(globexPatient["supportedProfile"] == nil)
            let parameters = (acmePatient["searchParam"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
            for name in ["_id", "identifier", "name", "family", "given", "birthdate", "gender", "organization", "_lastUpdated"] {
                #expect(parameters.contains(name), "Patient.\(name)")
            }
            #expect((acmePatient["searchRevInclude"] as? [String])?.contains("MedicationRequest:patient") == true)
            #expect((globexPatient["searchRevInclude"] as? [String])?.contains("MedicationRequest:patient") != true)
            #expect(!globex.body.lowercased().contains("acme"))
            #expect(!acme.body.lowercased().contains("globex"))
            let security = (((acme.json["rest"] as? [[String: Any]])?.first)?["security"] as? [String: Any])
            let service = ((security?["service"] as? [[String: Any]])?.first?["coding"] as? [[String: Any]])?.first?["code"] as? String
            #expect(service == "SMART-on-FHIR")
            #expect(acme.body.contains("https://idp.acme.test/authorize"))
        }
    }

    @Test func metadataHonoursSummaryFormatModeAndETag() async throws {
        let fixture = try await GatewayFixture.shared(.sqlite)
        try await fixture.withClient { client in
            let full = try await client.get("/acme/r4/metadata")
            let etag = try #require(full.header("ETag"))
            expectStatus(try await client.get("/acme/r4/metadata", headers: ["If-None-Match": etag]), 304)
            let summary = try await client.get("/acme/r4/metadata?_summary=true")
            #expect(summary.json["rest"] == nil)
            #expect(summary.json["fhirVersion"] as? String == "4.0.1")
            #expect(summary.header("ETag") != etag)
            expectStatus(try await client.get("/acme/r4/metadata?mode=normative"), 200)
            expectStatus(try await client.get("/acme/r4/metadata?mode=terminology"), 400)
            expectStatus(try await client.get("/acme/r4/metadata?_format=xml"), 406)
            let json = try await client.get("/acme/r4/metadata?_format=json")
            #expect(json.header("Content-Type") == "application/fhir+json; charset=utf-8")
        }
    }

    @Test func smartConfigurationDescribesTheTenantsIssuer() async throws {
        let fixture = try await GatewayFixture.shared(.sqlite)
        try await fixture.withClient { client in
            let acme = try await client.get("/acme/r4/.well-known/smart-configuration")
            expectStatus(acme, 200)
            #expect(acme.header("Content-Type") == "application/json; charset=utf-8")
            #expect(acme.json["issuer"] as? String == "https://idp.acme.test")
            #expect(acme.json["code_challenge_methods_supported"] as? [String] == ["S256"])
            #expect(acme.json["token_endpoint"] as? String == "https://idp.acme.test/token")
            #expect((acme.json["capabilities"] as? [String])?.contains("permission-patient") == true)
            let initech = try await client.get("/initech/r4/.well-known/smart-configuration")
            #expect(initech.json["jwks_uri"] as? String == "https://fhir.test/dev-issuer/jwks.json")
            let jwks = try await client.get("/dev-issuer/jwks.json")
            #expect(((jwks.json["keys"] as? [[String: Any]])?.first?["d"]) == nil, "never publish the private key")
        }
    }

    @Test func embeddedTemplateMatchesTheFileInCapability() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let template = try String(contentsOf: root.appendingPathComponent("capability/CapabilityStatement.template.json"), encoding: .utf8)
        let generated = try String(contentsOf: root.appendingPathComponent("Sources/GatewayApp/Generated/EmbeddedResources.swift"), encoding: .utf8)
        #expect(generated.contains(template.trimmingCharacters(in: .newlines)), "run scripts/generate-embedded.py")
    }
}
