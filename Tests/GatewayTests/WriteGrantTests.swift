import FHIRModels
import Foundation
import HummingbirdTesting
import Testing

/// Writes, history and conditional creates hold to the grant that makes them, through every door
/// (single request, transaction entry, batch entry), on both stores.
@Suite struct WriteGrantTests {
    static let hemoglobinOnly = "system/Observation.cru?code=http://loinc.org%7C718-7 system/Patient.rs"

    static func bundle(_ type: String, _ entries: [String]) -> String {
        #"{"resourceType":"Bundle","type":"\#(type)","entry":[\#(entries.joined(separator: ","))]}"#
    }

    @Test(arguments: StoreKind.available)
    func granularFiltersHoldForWhatIsWritten(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let token = fixture.token("acme", scope: Self.hemoglobinOnly)
        let patient = GatewayFixture.patientID("acme", 42)
        try await fixture.withClient { client in
            let potassium = try await LabWriteTests.post(client, "acme", "Observation", LabFixtures.observation(patient: patient, code: "2823-3"), token: token)
            expectStatus(potassium, 403, "a hemoglobin-only grant cannot create a potassium result")
            let vital = try await LabWriteTests.post(client, "acme", "Observation", LabFixtures.observation(patient: patient), token: token)
            expectStatus(vital, 201, "\(vital.body.prefix(600))")
            let id = try #require(vital.json["id"] as? String)
            let moved = LabFixtures.observation(patient: patient, code: "2823-3").replacingOccurrences(of: #""id":"client-chosen-id""#, with: #""id":"\#(id)""#)
            let update = try await client.send("/acme/r4/Observation/\(id)", method: .put, token: token, headers: LabWriteTests.json, body: moved)
            expectStatus(update, 403, "an update cannot move a result out of the filter")
            let read = try await client.get("/acme/r4/Observation/\(id)", token: fixture.token("acme", scope: LabWriteTests.writer))
            #expect(read.header("ETag") == "W/\"1\"", "the refused update stored nothing")

            // The same grant through a transaction entry and a batch entry.
            let entry = #"{"resource":\#(LabFixtures.observation(patient: patient, code: "2823-3")),"request":{"method":"POST","url":"Observation"}}"#
            expectStatus(try await client.send("/acme/r4", method: .post, token: token, headers: LabWriteTests.json, body: Self.bundle("transaction", [entry])), 403)
            let batch = try await client.send("/acme/r4", method: .post, token: token, headers: LabWriteTests.json, body: Self.bundle("batch", [entry]))
            expectStatus(batch, 200)
            #expect(((batch.entries.first?["response"] as? [String: Any])?["status"] as? String) == "403")
        }
    }

    @Test(arguments: StoreKind.available)
    func conditionalCreateIsNoReadOracle(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let writer = fixture.token("acme", scope: LabWriteTests.writer)
        let createOnly = fixture.token("acme", scope: "system/Observation.c system/Patient.rs")
        let patient = GatewayFixture.patientID("acme", 43)
        try await fixture.withClient { client in
            let existing = try await LabWriteTests.post(client, "acme", "Observation", LabFixtures.observation(patient: patient), token: writer)
            let id = try #require(existing.json["id"] as? String)
            let probe = try await LabWriteTests.post(client, "acme", "Observation", LabFixtures.observation(patient: patient), token: createOnly,
                                                     headers: ["If-None-Exist": "_id=\(id)"])
            expectStatus(probe, 403)
            #expect(!probe.body.contains("Hemoglobin"), "nothing of the matched resource is revealed")
            let entry = #"{"resource":\#(LabFixtures.observation(patient: patient)),"request":{"method":"POST","url":"Observation","ifNoneExist":"_id=\#(id)"}}"#
            expectStatus(try await client.send("/acme/r4", method: .post, token: createOnly, headers: LabWriteTests.json,
                                               body: Self.bundle("transaction", [entry])), 403)
            let empty = #"{"resource":\#(LabFixtures.observation(patient: patient)),"request":{"method":"POST","url":"Observation","ifNoneExist":""}}"#
            expectStatus(try await client.send("/acme/r4", method: .post, token: writer, headers: LabWriteTests.json,
                                               body: Self.bundle("transaction", [empty])), 400)
        }
    }

    @Test(arguments: StoreKind.available)
    func everyVersionSatisfiesTheCompartmentOnItsOwn(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let writer = fixture.token("acme", scope: LabWriteTests.writer)
        let alice = GatewayFixture.patientID("acme", 44)
        let bob = GatewayFixture.patientID("acme", 45)
        let bobsApp = fixture.token("acme", scope: "patient/Observation.rs", claims: ["patient": .string(bob)])
        try await fixture.withClient { client in
            let created = try await LabWriteTests.post(client, "acme", "Observation", LabFixtures.observation(patient: alice), token: writer)
            let id = try #require(created.json["id"] as? String)
            let moved = LabFixtures.observation(patient: bob).replacingOccurrences(of: #""id":"client-chosen-id""#, with: #""id":"\#(id)""#)
            expectStatus(try await client.send("/acme/r4/Observation/\(id)", method: .put, token: writer, headers: LabWriteTests.json, body: moved), 200)
            expectStatus(try await client.get("/acme/r4/Observation/\(id)/_history/2", token: bobsApp), 200)
            let old = try await client.get("/acme/r4/Observation/\(id)/_history/1", token: bobsApp)
            expectStatus(old, 404, "version 1 is Alice's result")
            let history = try await client.get("/acme/r4/Observation/\(id)/_history", token: bobsApp)
            expectStatus(history, 200)
            #expect(history.resources.count == 1)
            #expect(!history.body.contains(alice))
        }
    }

    @Test(arguments: StoreKind.available)
    func transactionEntriesRunUnderTheirOwnGrant(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let writer = fixture.token("acme", scope: LabWriteTests.writer)
        let alice = GatewayFixture.patientID("acme", 46)
        let bob = GatewayFixture.patientID("acme", 47)
        // Reports for anyone, Observations only in Alice's compartment.
        let mixed = fixture.token("acme", scope: "system/DiagnosticReport.cru patient/Observation.cru system/Patient.rs",
                                  claims: ["patient": .string(alice)])
        try await fixture.withClient { client in
            let bobs = try await LabWriteTests.post(client, "acme", "Observation", LabFixtures.observation(patient: bob), token: writer)
            let bobsID = try #require(bobs.json["id"] as? String)
            let reportBody = LabFixtures.report(patient: bob, results: ["Observation/\(bobsID)"])
            let report = #"{"resource":\#(reportBody),"request":{"method":"POST","url":"DiagnosticReport"}}"#
            // Entry 2 would take Bob's result into Alice's chart: the current version is outside the grant.
            let changed = LabFixtures.observation(patient: alice, value: "9.90").replacingOccurrences(of: #""id":"client-chosen-id""#, with: #""id":"\#(bobsID)""#)
            let update = #"{"resource":\#(changed),"request":{"method":"PUT","url":"Observation/\#(bobsID)"}}"#
            let response = try await client.send("/acme/r4", method: .post, token: mixed, headers: LabWriteTests.json,
                                                 body: Self.bundle("transaction", [report, update]))
            expectStatus(response, 404, "entry 2 may only touch Alice's Observations, whatever entry 1's grant is: \(response.body.prefix(600))")
            let read = try await client.get("/acme/r4/Observation/\(bobsID)", token: writer)
            #expect(read.body.contains(#""value":7.10"#), "nothing was committed")

            let badETag = #"{"resource":\#(changed),"request":{"method":"PUT","url":"Observation/\#(bobsID)","ifMatch":"W/one"}}"#
            let malformed = try await client.send("/acme/r4", method: .post, token: writer, headers: LabWriteTests.json,
                                                  body: Self.bundle("transaction", [badETag]))
            expectStatus(malformed, 400, "a malformed ifMatch is refused as it is on a single PUT")
            #expect(try await client.get("/acme/r4/Observation/\(bobsID)", token: writer).header("ETag") == "W/\"1\"")
        }
    }

    @Test(arguments: StoreKind.available)
    func filtersMadeOfResultParametersAreUnusable(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let patient = GatewayFixture.patientID("acme", 1)
        try await fixture.withClient { client in
            for filter in ["_elements=id,gender", "_summary=count", "_count=1", "_sort=family", "_include=Patient:organization", "_total=accurate", "_cursor=x"] {
                let token = fixture.token("acme", scope: "system/Patient.rs?\(filter)")
                let read = try await client.get("/acme/r4/Patient/\(patient)", token: token)
                expectStatus(read, 403, "system/Patient.rs?\(filter)")
                #expect(!read.body.contains("family"))
            }
        }
    }

    @Test(arguments: StoreKind.available)
    func aSubjectMustResolveToAPatientOfTheCompartment(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let alice = GatewayFixture.patientID("acme", 48)
        let app = fixture.token("acme", scope: "patient/Observation.cruds patient/DiagnosticReport.cruds", claims: ["patient": .string(alice)])
        let system = fixture.token("acme", scope: LabWriteTests.writer)
        let base = LabFixtures.observation(patient: alice)
        let subjects = [
            #""subject":{"type":"Patient","identifier":{"system":"urn:hms:acme:mrn","value":"MRN-000037"}}"#,
            #""subject":{"display":"Someone"}"#,
            ##""contained":[{"resourceType":"Patient","id":"p1"}],"subject":{"reference":"#p1"}"##,
        ]
        try await fixture.withClient { client in
            let result = try #require(try await LabWriteTests.post(client, "acme", "Observation", base, token: system).json["id"] as? String)
            for subject in subjects {
                let body = base.replacingOccurrences(of: #""subject":{"reference":"Patient/\#(alice)"}"#, with: subject)
                for token in [app, system] {
                    let response = try await LabWriteTests.post(client, "acme", "Observation", body, token: token)
                    #expect(response.status == 422 || response.status == 403, "\(subject): \(response.status)")
                }
                let report = LabFixtures.report(patient: alice, results: ["Observation/\(result)"]).replacingOccurrences(of: #""subject":{"reference":"Patient/\#(alice)"}"#, with: subject)
                let reportResponse = try await LabWriteTests.post(client, "acme", "DiagnosticReport", report, token: app)
                #expect(reportResponse.status == 422, "\(reportResponse.body.prefix(600))")
            }
            // Local forms of the same reference are indexed and audited as that patient.
            for reference in ["https://fhir.test/acme/r4/Patient/\(alice)", "Patient/\(alice)/_history/2"] {
                let body = base.replacingOccurrences(of: #""reference":"Patient/\#(alice)""#, with: #""reference":"\#(reference)""#)
                let created = try await LabWriteTests.post(client, "acme", "Observation", body, token: app)
                expectStatus(created, 201, "\(reference)")
                let id = try #require(created.json["id"] as? String)
                let found = try await client.get("/acme/r4/Observation?patient=\(alice)&_id=\(id)", token: app)
                #expect(found.matchIDs == [id], "\(reference) is found by patient")
            }
            // A PUT cannot move the app's own result out of its compartment.
            let created = try await LabWriteTests.post(client, "acme", "Observation", base, token: app)
            let id = try #require(created.json["id"] as? String)
            let neighbour = GatewayFixture.patientID("acme", 49)
            let moved = LabFixtures.observation(patient: neighbour).replacingOccurrences(of: #""id":"client-chosen-id""#, with: #""id":"\#(id)""#)
            let update = try await client.send("/acme/r4/Observation/\(id)", method: .put, token: app, headers: LabWriteTests.json, body: moved)
            #expect(update.status == 422 || update.status == 403)
            #expect(try await client.get("/acme/r4/Observation/\(id)", token: app).header("ETag") == "W/\"1\"")
        }
    }

    @Test(arguments: StoreKind.available)
    func historyIsPagedAndFiltered(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let writer = fixture.token("acme", scope: LabWriteTests.writer)
        let patient = GatewayFixture.patientID("acme", 51)
        try await fixture.withClient { client in
            let created = try await LabWriteTests.post(client, "acme", "Observation", LabFixtures.observation(patient: patient), token: writer)
            let id = try #require(created.json["id"] as? String)
            for value in ["7.20", "7.30", "7.40", "7.50"] {
                let body = LabFixtures.observation(patient: patient, value: value).replacingOccurrences(of: #""id":"client-chosen-id""#, with: #""id":"\#(id)""#)
                expectStatus(try await client.send("/acme/r4/Observation/\(id)", method: .put, token: writer, headers: LabWriteTests.json, body: body), 200)
            }
            var versions: [String] = []
            var next: String? = "/acme/r4/Observation/\(id)/_history?_count=2"
            var pages = 0
            while let url = next, pages < 10 {
                let page = try await client.get(url, token: writer)
                expectStatus(page, 200)
                #expect(page.resources.count <= 2)
                versions += page.resources.compactMap { ($0["meta"] as? [String: Any])?["versionId"] as? String }
                next = page.link("next").map(relative)
                pages += 1
            }
            #expect(versions == ["5", "4", "3", "2", "1"])
            #expect(pages == 3)
            let other = fixture.token("globex", scope: "system/*.rs")
            let tampered = try await client.get("/acme/r4/Observation/\(id)/_history?_count=2&_cursor=AAAA", token: writer)
            expectStatus(tampered, 400)
            expectStatus(try await client.get("/globex/r4/Observation/\(id)/_history", token: other), 404)
            let future = try await client.get("/acme/r4/Observation/\(id)/_history?_since=9999-01-01T00:00:00Z", token: writer)
            #expect(future.resources.isEmpty)
            expectStatus(try await client.get("/acme/r4/Observation/\(id)/_history?_since=yesterday", token: writer), 400)
            expectStatus(try await client.get("/acme/r4/Observation/\(id)/_history?_count=-1", token: writer), 400)
        }
    }
}
