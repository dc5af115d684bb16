import FHIRModels
import Foundation
import GatewayApp
import GatewayAuth
import GatewayConfig
@testable import GatewayStore
import HMSMapping
import HummingbirdTesting
import Testing

/// A token's hospital claim confines it to its hospitals' records, through every door, like the
/// tenant: two hospitals of one tenant whose data collide (the seeder gives every tenant hospitals
/// coded H1 and H2, and patients alternate between them).
@Suite struct HospitalIsolationTests {
    struct Setup: Sendable {
        let slug: String
        let hospitals: [String]
        /// Every row's hospital, by `Type/id`: the ground truth, read from the store.
        let owner: [String: String]
    }

    static func setUp(_ fixture: GatewayFixture) async throws -> Setup {
        let slug = try await AdminAPITests.seededTenant(fixture, prefix: "branch", patients: 24)
        let registry = TenantRegistry(repository: fixture.repository, developmentIssuer: fixture.configuration.developmentIssuer)
        let document = try JSONParser.parse(AdminAPITests.document(slug, tier: "enterprise", extra: #", "hospital_claim": "hospital_ids""#))
        _ = try await registry.put(slug, document: document, actor: .init(subject: "test"))
        let tenantID = try #require(try await fixture.repository.hmsTenantIDs(slugs: [slug])[slug])
        var owner: [String: String] = [:]
        for (type, table, prefix) in [("Patient", "patients", ""), ("Practitioner", "doctors", ""), ("MedicationRequest", "prescriptions", ""),
                                      ("Encounter", "appointments", "apt-"), ("Encounter", "admissions", "adm-")] {
            let rows = try await fixture.repository.backend.query(
                SQLStatement("SELECT id, hospital_id FROM \(unsafeRaw: table) WHERE tenant_id = ?", [.uuid(tenantID)]),
                columns: [HMSColumn("id", .uuid), HMSColumn("hospital_id", .uuid)], tenantID: tenantID)
            for row in rows { owner["\(type)/\(prefix)\(row.string("id")!)"] = row.string("hospital_id") }
        }
        let hospitals = try await fixture.repository.hospitals(tenantID: tenantID).sorted { $0.code < $1.code }.map(\.id)
        for hospital in hospitals { owner["Organization/\(hospital)"] = hospital }
        return Setup(slug: slug, hospitals: hospitals, owner: owner)
    }

    static func token(_ fixture: GatewayFixture, _ slug: String, hospitals: JSON?, scope: String = "system/*.cruds") throws -> String {
        var claims = JSONObject()
        claims.append("iss", fixture.configuration.developmentIssuer)
        claims.append("sub", "front-desk")
        claims.append("aud", "https://fhir.test/\(slug)/r4")
        claims.append("exp", .int(Int(GatewayFixture.now + 600)))
        claims.append("tenant_id", slug)
        claims.append("scope", scope)
        claims.append("azp", "branch-app")
        claims.append("hospital_ids", hospitals)
        return try fixture.developmentIssuer.sign(claims: claims)
    }

    static func key(_ resource: [String: Any]) -> String { "\(resource["resourceType"] as? String ?? "")/\(resource["id"] as? String ?? "")" }

    /// Every page of `query`, following `next`.
    static func all(_ client: any TestClientProtocol, _ path: String, token: String) async throws -> (matches: [String], included: [String]) {
        var matches: [String] = []
        var included: [String] = []
        var next: String? = path
        while let current = next {
            let page = try await client.get(current, token: token)
            expectStatus(page, 200, "\(current)")
            for entry in page.entries {
                guard let resource = entry["resource"] as? [String: Any] else { continue }
                if ((entry["search"] as? [String: Any])?["mode"] as? String) == "match" { matches.append(key(resource)) } else { included.append(key(resource)) }
            }
            next = page.link("next").map(relative)
        }
        return (matches, included)
    }

    @Test(arguments: StoreKind.available)
    func everyDoorKeepsAHospitalTokenInsideItsHospitals(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let setup = try await Self.setUp(fixture)
        let slug = setup.slug
        let (first, second) = (setup.hospitals[0], setup.hospitals[1])
        let byCode = try Self.token(fixture, slug, hospitals: .array([.string("H1")]))
        let byID = try Self.token(fixture, slug, hospitals: .string("Organization/\(second)"))
        let tenantWide = try Self.token(fixture, slug, hospitals: nil)
        try await fixture.withClient { client in
            let queries = ["Patient?_count=7", "Patient?family=smith", "Patient?_include=Patient:organization&_count=9", "Practitioner",
                           "Organization", "Encounter?_count=11&_include=Encounter:patient&_include=Encounter:service-provider",
                           "MedicationRequest?_count=13&_include=MedicationRequest:patient&_include=MedicationRequest:encounter",
                           "Patient?_revinclude=Encounter:patient&_count=5"]
            for query in queries {
                let path = "/\(slug)/r4/\(query)"
                let mine = try await Self.all(client, path, token: byCode)
                let theirs = try await Self.all(client, path, token: byID)
                let everyone = try await Self.all(client, path, token: tenantWide)
                for item in mine.matches + mine.included { #expect(setup.owner[item] == first, "\(query): \(item) is not of H1") }
                for item in theirs.matches + theirs.included { #expect(setup.owner[item] == second, "\(query): \(item) is not of H2") }
                #expect(Set(mine.matches).isDisjoint(with: theirs.matches))
                #expect(Set(mine.matches).union(theirs.matches) == Set(everyone.matches), "\(query): the two hospitals make up the tenant")
                if !query.contains("family") { #expect(!mine.matches.isEmpty && !theirs.matches.isEmpty, "\(query)") }
                let counts = try await [byCode, byID, tenantWide].asyncMap { token in
                    try await client.get("\(path.split(separator: "&").first!)\(path.contains("?") ? "&" : "?")_summary=count", token: token).json["total"] as? Int ?? -1
                }
                #expect(counts[0] + counts[1] == counts[2], "\(query): counts \(counts)")
            }

            // Reads: another hospital's patient is not there at all.
            let theirPatient = try #require(setup.owner.first { $0.key.hasPrefix("Patient/") && $0.value == second }?.key)
            let minePatient = try #require(setup.owner.first { $0.key.hasPrefix("Patient/") && $0.value == first }?.key)
            expectStatus(try await client.get("/\(slug)/r4/\(theirPatient)", token: byCode), 404)
            expectStatus(try await client.get("/\(slug)/r4/\(theirPatient)", token: byID), 200)
            expectStatus(try await client.get("/\(slug)/r4/Organization/\(second)", token: byCode), 404)

            // Writes take the subject's hospital; a branch cannot write into another's patients.
            func observation(_ patient: String) -> String {
                #"{"resourceType": "Observation", "status": "final", "code": {"text": "glucose"}, "subject": {"reference": "\#(patient)"}}"#
            }
            let refused = try await client.send("/\(slug)/r4/Observation", method: .post, token: byCode,
                                                headers: ["Content-Type": "application/fhir+json"], body: observation(theirPatient))
            #expect([403, 422].contains(refused.status), "\(refused.status) \(refused.body)")
            let written = try await client.send("/\(slug)/r4/Observation", method: .post, token: tenantWide,
                                                headers: ["Content-Type": "application/fhir+json"], body: observation(minePatient))
            expectStatus(written, 201)
            let id = try #require(written.json["id"] as? String)
            expectStatus(try await client.get("/\(slug)/r4/Observation/\(id)", token: byCode), 200)
            for path in ["/\(slug)/r4/Observation/\(id)", "/\(slug)/r4/Observation/\(id)/_history", "/\(slug)/r4/Observation/\(id)/_history/1"] {
                expectStatus(try await client.get(path, token: byID), 404, "\(path)")
            }
            #expect(try await client.get("/\(slug)/r4/Observation?code=glucose&_summary=count", token: byID).json["total"] as? Int == 0)
            #expect(try await client.get("/\(slug)/r4/Patient?_id=\(minePatient.dropFirst(8))&_revinclude=Observation:patient", token: byID).entries.isEmpty)
            // The audit trail has no hospital column of its own: a branch token sees none of it.
            #expect(try await client.get("/\(slug)/r4/AuditEvent", token: try Self.token(fixture, slug, hospitals: .array([.string("H1")]),
                                                                                          scope: "system/AuditEvent.rs")).entries.isEmpty)

            // A hospital the tenant does not have, whether or not another tenant has it: the same 403.
            let foreign = try Self.token(fixture, slug, hospitals: .array([.string(GatewayFixture.hospitalID("acme", 0))]))
            let unknown = try Self.token(fixture, slug, hospitals: .array([.string("H1"), .string("H9")]))
            let empty = try Self.token(fixture, slug, hospitals: .array([]))
            let answers = try await [foreign, unknown, empty].asyncMap { try await client.get("/\(slug)/r4/Patient", token: $0) }
            for answer in answers { expectStatus(answer, 403) }
            #expect(Set(answers.map(\.body)).count == 1, "one answer whatever the hospital")
            expectStatus(try await client.get("/\(slug)/r4/Patient", token: try Self.token(fixture, slug, hospitals: .number("7"))), 401)
        }
        // The hospital is an attribute of the audit record.
        let tenantID = try #require(try await fixture.repository.hmsTenantIDs(slugs: [slug])[slug])
        try await fixture.repository.sealAudit(tenantID: tenantID)
        let trail = try await fixture.repository.auditEvents(tenantID: tenantID, after: 0, limit: 100_000)
        #expect(trail.contains { ($0.string("body") ?? "").contains("\"site\":\"Organization/\(first)\"") })
        #expect(trail.contains { ($0.string("body") ?? "").contains("\"site\":\"Organization/\(second)\"") })
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
