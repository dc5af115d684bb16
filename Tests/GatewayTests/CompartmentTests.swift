import FHIRModels
import Foundation
import HummingbirdTesting
import Testing

/// Patient-context tokens see only their patient's compartment, and granular scopes narrow
/// results: through read, search, includes, revincludes, history and writes.
@Suite struct CompartmentTests {
    @Test(arguments: StoreKind.available)
    func patientTokensCannotLeaveTheCompartment(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let me = GatewayFixture.patientID("acme", 5)
        let neighbour = GatewayFixture.patientID("acme", 6)
        let token = fixture.token("acme", scope: "patient/*.rs launch/patient openid", claims: ["patient": .string(me)])
        let system = fixture.token("acme")
        try await fixture.withClient { client in
            expectStatus(try await client.get("/acme/r4/Patient/\(me)", token: token), 200)
            let other = try await client.get("/acme/r4/Patient/\(neighbour)", token: token)
            let nowhere = try await client.get("/acme/r4/Patient/\(UUID().uuidString.lowercased())", token: token)
            expectStatus(other, 404)
            #expect(other.body == nowhere.body)
            #expect(try await client.get("/acme/r4/Patient?_count=50", token: token).matchIDs == [me])
            #expect(try await client.get("/acme/r4/Patient?_id=\(neighbour)", token: token).matchIDs.isEmpty)
            #expect(try await client.get("/acme/r4/Patient?family=a&_count=50", token: token).matchIDs.allSatisfy { $0 == me })

            let mine = try await client.get("/acme/r4/Encounter?_count=50", token: token)
            #expect(!mine.resources.isEmpty)
            for resource in mine.resources {
                #expect(((resource["subject"] as? [String: Any])?["reference"] as? String) == "Patient/\(me)")
            }
            #expect(try await client.get("/acme/r4/Encounter?patient=\(neighbour)", token: token).matchIDs.isEmpty)
            let theirEncounter = try #require(try await client.get("/acme/r4/Encounter?patient=\(neighbour)&_count=1", token: system).matchIDs.first)
            expectStatus(try await client.get("/acme/r4/Encounter/\(theirEncounter)", token: token), 404)
            let theirRequests = try await client.get("/acme/r4/MedicationRequest?patient=\(neighbour)", token: system).matchIDs
            for id in theirRequests { expectStatus(try await client.get("/acme/r4/MedicationRequest/\(id)", token: token), 404) }
            // Chained and _has parameters are not supported: ignored, and the compartment still holds.
            let chained = try await client.get("/acme/r4/Encounter?patient.name=x&_has:Observation:patient:code=1&_count=50", token: token)
            #expect(Set(chained.matchIDs) == Set(mine.matchIDs))

            // Includes never step outside: practitioners are not in the compartment, other patients never appear.
            let included = try await client.get("/acme/r4/Encounter?_include=Encounter:participant&_include=Encounter:patient&_count=50", token: token)
            #expect(!included.resources.contains { $0["resourceType"] as? String == "Practitioner" })
            #expect(included.resources.filter { $0["resourceType"] as? String == "Patient" }.compactMap { $0["id"] as? String } == [me])
            let reverse = try await client.get("/acme/r4/Patient?_revinclude=Encounter:patient&_revinclude=MedicationRequest:patient&_count=50", token: token)
            for resource in reverse.resources where resource["resourceType"] as? String != "Patient" {
                #expect(((resource["subject"] as? [String: Any])?["reference"] as? String) == "Patient/\(me)")
            }
            expectStatus(try await client.get("/acme/r4/Practitioner?_count=1", token: token), 403)
            expectStatus(try await client.get("/acme/r4/Organization/\(GatewayFixture.hospitalID("acme", 0))", token: token), 403)
        }
    }

    @Test(arguments: StoreKind.available)
    func granularScopesAndPatientWritesAreNarrowed(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let me = GatewayFixture.patientID("acme", 7)
        let neighbour = GatewayFixture.patientID("acme", 8)
        let system = fixture.token("acme", scope: LabWriteTests.writer)
        try await fixture.withClient { client in
            var ids: [String: String] = [:]
            for code in ["718-7", "789-8"] {
                let response = try await LabWriteTests.post(client, "acme", "Observation", LabFixtures.observation(patient: me, code: code), token: system)
                ids[code] = try #require(response.json["id"] as? String)
            }
            let hemoglobinOnly = fixture.token("acme", scope: "patient/Observation.rs?code=http://loinc.org%7C718-7",
                                               claims: ["patient": .string(me)])
            let visible = try await client.get("/acme/r4/Observation?patient=\(me)&_count=50", token: hemoglobinOnly)
            #expect(visible.matchIDs.contains(ids["718-7"]!) && !visible.matchIDs.contains(ids["789-8"]!))
            expectStatus(try await client.get("/acme/r4/Observation/\(ids["718-7"]!)", token: hemoglobinOnly), 200)
            expectStatus(try await client.get("/acme/r4/Observation/\(ids["789-8"]!)", token: hemoglobinOnly), 404)
            expectStatus(try await client.get("/acme/r4/Observation/\(ids["789-8"]!)/_history", token: hemoglobinOnly), 404)
            let doctor = JSON.string("Practitioner/\(GatewayFixture.doctorID("acme", 1))")
            let labs = fixture.token("acme", scope: "user/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category%7Claboratory",
                                     claims: ["fhirUser": doctor])
            #expect(try await client.get("/acme/r4/Observation?patient=\(me)&_count=50", token: labs).matchIDs.count >= 2)
            let unenforceable = fixture.token("acme", scope: "user/Observation.rs?nonsense=1", claims: ["fhirUser": doctor])
            expectStatus(try await client.get("/acme/r4/Observation?patient=\(me)", token: unenforceable), 403)

            let writer = fixture.token("acme", scope: "patient/Observation.cr", claims: ["patient": .string(me)])
            expectStatus(try await LabWriteTests.post(client, "acme", "Observation", LabFixtures.observation(patient: me), token: writer), 201)
            let elsewhere = try await LabWriteTests.post(client, "acme", "Observation", LabFixtures.observation(patient: neighbour), token: writer)
            expectStatus(elsewhere, 422, "a patient token writes only into its own compartment")
        }
    }
}
