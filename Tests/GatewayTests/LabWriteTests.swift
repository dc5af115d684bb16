import Foundation
import HummingbirdTesting
import Testing

/// Partner labs posting results: create, conditional create, update, vread, history, validation.
@Suite struct LabWriteTests {
    static let writer = "system/Observation.cruds system/DiagnosticReport.cruds system/Patient.rs"
    static let json = ["Content-Type": "application/fhir+json"]

    static func post(_ client: any TestClientProtocol, _ tenant: String, _ type: String, _ body: String, token: String,
                     headers: [String: String] = [:]) async throws -> TestResponse {
        try await client.send("/\(tenant)/r4/\(type)", method: .post, token: token, headers: json.merging(headers) { $1 }, body: body)
    }

    @Test(arguments: StoreKind.available)
    func createReadUpdateVreadHistory(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let token = fixture.token("acme", scope: Self.writer)
        let patient = GatewayFixture.patientID("acme", 20)
        try await fixture.withClient { client in
            let created = try await Self.post(client, "acme", "Observation", LabFixtures.observation(patient: patient), token: token)
            expectStatus(created, 201, "\(created.body.prefix(500))")
            let id = try #require(created.json["id"] as? String)
            #expect(id != "client-chosen-id")
            #expect(created.header("Location") == "https://fhir.test/acme/r4/Observation/\(id)/_history/1")
            #expect(created.header("ETag") == "W/\"1\"")
            #expect(created.header("Last-Modified")?.hasSuffix("GMT") == true)

            let read = try await client.get("/acme/r4/Observation/\(id)", token: token)
            expectStatus(read, 200)
            #expect(read.body.contains(#""value":7.10,"#), "decimals keep their written precision")
            #expect(read.body.contains("0.1234567890123456789"))
            #expect(read.body.contains("XN-1000 #7"), "extensions survive")
            #expect(read.header("ETag") == "W/\"1\"")

            let corrected = LabFixtures.observation(patient: patient, value: "7.30", status: "corrected")
                .replacingOccurrences(of: #""id":"client-chosen-id""#, with: #""id":"\#(id)""#)
            let updated = try await client.send("/acme/r4/Observation/\(id)", method: .put, token: token,
                                                headers: Self.json.merging(["If-Match": "W/\"1\""]) { $1 }, body: corrected)
            expectStatus(updated, 200, "\(updated.body.prefix(300))")
            #expect(updated.header("ETag") == "W/\"2\"")
            let stale = try await client.send("/acme/r4/Observation/\(id)", method: .put, token: token,
                                              headers: Self.json.merging(["If-Match": "W/\"1\""]) { $1 }, body: corrected)
            expectStatus(stale, 412)
            let mismatch = try await client.send("/acme/r4/Observation/\(id)", method: .put, token: token, headers: Self.json,
                                                 body: corrected.replacingOccurrences(of: id, with: UUID().uuidString.lowercased()))
            expectStatus(mismatch, 400)
            let unknown = UUID().uuidString.lowercased()
            let createByUpdate = try await client.send("/acme/r4/Observation/\(unknown)", method: .put, token: token, headers: Self.json,
                                                       body: corrected.replacingOccurrences(of: id, with: unknown))
            expectStatus(createByUpdate, 404)

            let first = try await client.get("/acme/r4/Observation/\(id)/_history/1", token: token)
            expectStatus(first, 200)
            #expect(first.body.contains(#""value":7.10,"#) && first.body.contains(#""status":"final""#))
            let second = try await client.get("/acme/r4/Observation/\(id)/_history/2", token: token)
            #expect(second.body.contains(#""value":7.30,"#) && second.body.contains(#""status":"corrected""#))
            expectStatus(try await client.get("/acme/r4/Observation/\(id)/_history/3", token: token), 404)
            let history = try await client.get("/acme/r4/Observation/\(id)/_history", token: token)
            #expect(history.json["type"] as? String == "history")
            #expect(history.resources.count == 2)
            #expect((history.resources.first?["meta"] as? [String: Any])?["versionId"] as? String == "2")

            let minimal = try await Self.post(client, "acme", "Observation", LabFixtures.observation(patient: patient), token: token,
                                              headers: ["Prefer": "return=minimal"])
            expectStatus(minimal, 201)
            #expect(minimal.body.isEmpty)
            let outcome = try await Self.post(client, "acme", "Observation", LabFixtures.observation(patient: patient), token: token,
                                              headers: ["Prefer": "return=OperationOutcome"])
            #expect(outcome.json["resourceType"] as? String == "OperationOutcome")
        }
    }

    @Test(arguments: StoreKind.available)
    func conditionalCreateIsExactlyOnceUnderSixteenParallelRetries(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let token = fixture.token("acme", scope: Self.writer)
        let patient = GatewayFixture.patientID("acme", 21)
        let accession = "ACC-\(UUID().uuidString)"
        let body = LabFixtures.observation(patient: patient, identifier: accession)
        let condition = ["If-None-Exist": "identifier=urn:oid:1.2.3.4.5|\(accession)"]
        try await fixture.withClient { client in
            let statuses = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                for _ in 0..<16 {
                    group.addTask {
                        let response = try await Self.post(client, "acme", "Observation", body, token: token, headers: condition)
                        return (response.status, response.json["id"] as? String)
                    }
                }
                var results: [(Int, String?)] = []
                for try await result in group { results.append(result) }
                return results
            }
            #expect(statuses.filter { $0.0 == 201 }.count == 1, "\(statuses.map(\.0))")
            #expect(statuses.filter { $0.0 == 200 }.count == 15)
            #expect(Set(statuses.compactMap(\.1)).count == 1, "every answer names the same resource")
            let found = try await client.get("/acme/r4/Observation?identifier=urn:oid:1.2.3.4.5%7C\(accession)", token: token)
            #expect(found.matchIDs.count == 1)

            // The same identifier in another tenant is another resource.
            let initech = try await Self.post(client, "initech", "Observation",
                                              LabFixtures.observation(patient: GatewayFixture.patientID("initech", 21), identifier: accession),
                                              token: fixture.token("initech", scope: Self.writer), headers: condition)
            expectStatus(initech, 201)

            // Two matches: 412, nothing created.
            let twice = "ACC-\(UUID().uuidString)"
            for _ in 0..<2 { _ = try await Self.post(client, "acme", "Observation", LabFixtures.observation(patient: patient, identifier: twice), token: token) }
            let ambiguous = try await Self.post(client, "acme", "Observation", LabFixtures.observation(patient: patient, identifier: twice), token: token,
                                                headers: ["If-None-Exist": "identifier=urn:oid:1.2.3.4.5|\(twice)"])
            expectStatus(ambiguous, 412)
            #expect(try await client.get("/acme/r4/Observation?identifier=\(twice)", token: token).matchIDs.count == 2)
            expectStatus(try await Self.post(client, "acme", "Observation", body, token: token, headers: ["If-None-Exist": "bogus=1"]), 400)
        }
    }

    @Test(arguments: StoreKind.available)
    func badInputGetsPreciseOutcomesAndStoresNothing(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let token = fixture.token("acme", scope: Self.writer)
        let patient = GatewayFixture.patientID("acme", 22)
        let valid = LabFixtures.observation(patient: patient)
        @Sendable func countForPatient(_ client: any TestClientProtocol) async throws -> Int {
            try await client.get("/acme/r4/Observation?patient=\(patient)&_summary=count", token: token).json["total"] as? Int ?? -1
        }
        try await fixture.withClient { client in
            let before = try await countForPatient(client)
            let structural: [(String, String, String?)] = [
                ("not JSON", "this is not json", nil),
                ("truncated", String(valid.prefix(120)), nil),
                ("duplicate key", #"{"resourceType":"Observation","status":"final","status":"final"}"#, nil),
                ("too deep", String(repeating: #"{"a":"#, count: 40) + "1" + String(repeating: "}", count: 40), nil),
                ("wrong resourceType", valid.replacingOccurrences(of: #""resourceType":"Observation""#, with: #""resourceType":"Patient""#), "resourceType"),
                ("unknown element", valid.replacingOccurrences(of: #""status":"final""#, with: #""status":"final","colour":"red""#), "Observation.colour"),
                ("two value[x]", valid.replacingOccurrences(of: #""effectiveDateTime""#, with: #""valueString":"x","effectiveDateTime""#), "Observation.value[x]"),
                ("bad date", valid.replacingOccurrences(of: "2025-03-05T08:30:00Z", with: "2025-13-45"), "Observation.effective.ofType(dateTime)"),
                ("bad status code", valid.replacingOccurrences(of: #""status":"final""#, with: #""status":"done""#), "Observation.status"),
                ("missing status", valid.replacingOccurrences(of: #""status":"final","#, with: ""), "Observation.status"),
                ("string for array", valid.replacingOccurrences(of: #""referenceRange":["#, with: #""note":"x","referenceRange":["#), "Observation.note"),
            ]
            for (label, body, expression) in structural {
                let response = try await Self.post(client, "acme", "Observation", body, token: token)
                expectStatus(response, 400, "\(label): \(response.body.prefix(300))")
                #expect(response.json["resourceType"] as? String == "OperationOutcome", "\(label)")
                if let expression {
                    let expressions = (response.json["issue"] as? [[String: Any]] ?? []).flatMap { $0["expression"] as? [String] ?? [] }
                    #expect(expressions.contains(expression), "\(label): \(expressions)")
                }
            }
            let many = try await Self.post(client, "acme", "Observation", valid
                .replacingOccurrences(of: #""status":"final""#, with: #""status":"done","colour":"red""#)
                .replacingOccurrences(of: "2025-03-05T08:30:00Z", with: "yesterday"), token: token)
            #expect((many.json["issue"] as? [[String: Any]])?.count ?? 0 >= 3, "every problem is listed, not only the first")

            let noCategory = try await Self.post(client, "acme", "Observation", valid.replacingOccurrences(of: #""code":"laboratory""#, with: #""code":"vital-signs""#), token: token)
            expectStatus(noCategory, 422)
            #expect(noCategory.issueCode == "processing")
            let otherTenantPatient = try await Self.post(client, "acme", "Observation", LabFixtures.observation(patient: GatewayFixture.patientID("initech", 22)), token: token)
            let nowherePatient = try await Self.post(client, "acme", "Observation", LabFixtures.observation(patient: "00000000-0000-4000-8000-000000000000"), token: token)
            expectStatus(otherTenantPatient, 422)
            #expect(otherTenantPatient.body == nowherePatient.body, "another tenant's patient answers like a missing one")
            let absolute = try await Self.post(client, "acme", "Observation", valid.replacingOccurrences(of: "Patient/\(patient)", with: "https://fhir.test/initech/r4/Patient/\(patient)"), token: token)
            expectStatus(absolute, 422)
            let plain = try await client.send("/acme/r4/Observation", method: .post, token: token, headers: ["Content-Type": "text/plain"], body: valid)
            expectStatus(plain, 415)
            let huge = valid.replacingOccurrences(of: #""text":"Hemoglobin""#, with: #""text":""# + String(repeating: "x", count: 1_100_000) + #"""#)
            expectStatus(try await Self.post(client, "acme", "Observation", huge, token: token), 413)
            let readOnly = try await Self.post(client, "acme", "Observation", valid, token: fixture.token("acme", scope: "system/Observation.rs"))
            expectStatus(readOnly, 403)
            for edge in ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"] {
                let response = try await Self.post(client, "acme", "Observation", LabFixtures.observation(patient: patient, effective: edge), token: token)
                expectStatus(response, 201, "effective \(edge): \(response.body.prefix(200))")
            }
            let hms = try await Self.post(client, "acme", "Patient", #"{"resourceType":"Patient"}"#, token: token)
            expectStatus(hms, 405)
            #expect(try await countForPatient(client) == before + 2, "failed requests store nothing (the two edge dates were valid)")
        }
    }

    @Test(arguments: StoreKind.available)
    func usCoreLabCombinationsAndIncludes(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let token = fixture.token("acme", scope: Self.writer)
        let patient = GatewayFixture.patientID("acme", 23)
        try await fixture.withClient { client in
            var ids: [String] = []
            for (code, value, date) in [("718-7", "13.2", "2025-01-10T09:00:00Z"), ("789-8", "4.6", "2025-02-10T09:00:00Z"), ("718-7", "12.1", "2025-03-10T09:00:00Z")] {
                let response = try await Self.post(client, "acme", "Observation", LabFixtures.observation(patient: patient, code: code, value: value, effective: date), token: token)
                ids.append(try #require(response.json["id"] as? String))
            }
            let report = try await Self.post(client, "acme", "DiagnosticReport", LabFixtures.report(patient: patient, results: ids.map { "Observation/\($0)" }), token: token)
            expectStatus(report, 201, "\(report.body.prefix(400))")
            let base = "/acme/r4/Observation?patient=\(patient)"
            let cases: [(String, Int)] = [
                ("&category=laboratory", 3), ("&category=http://terminology.hl7.org/CodeSystem/observation-category%7Claboratory&date=ge2025-02-01", 2),
                ("&code=http://loinc.org%7C718-7", 2), ("&code=718-7&date=lt2025-02", 1), ("&category=laboratory&status=final", 3),
                ("&category=vital-signs", 0), ("&value-quantity=gt12.5", 1), ("&value-quantity=4.6%7Chttp://unitsofmeasure.org%7Cg/dL", 1),
            ]
            for (query, expected) in cases {
                let response = try await client.get(base + query, token: token)
                #expect(response.matchIDs.count == expected, "\(query): \(response.matchIDs.count)")
            }
            let reports = try await client.get("/acme/r4/DiagnosticReport?patient=\(patient)&category=LAB&_include=DiagnosticReport:result", token: token)
            #expect(reports.matchIDs.count == 1)
            #expect(Set(reports.resources.filter { $0["resourceType"] as? String == "Observation" }.compactMap { $0["id"] as? String }) == Set(ids))
            let byResult = try await client.get("/acme/r4/DiagnosticReport?result=Observation/\(ids[0])", token: token)
            #expect(byResult.matchIDs.count == 1)
            let reverse = try await client.get("/acme/r4/Patient?_id=\(patient)&_revinclude=Observation:patient&_revinclude=DiagnosticReport:patient", token: token)
            #expect(reverse.resources.filter { $0["resourceType"] as? String == "Observation" }.count == 3)
            #expect(reverse.resources.filter { $0["resourceType"] as? String == "DiagnosticReport" }.count == 1)
            let missingResult = try await Self.post(client, "acme", "DiagnosticReport",
                                                    LabFixtures.report(patient: patient, results: ["Observation/\(UUID().uuidString.lowercased())"]), token: token)
            expectStatus(missingResult, 422)
        }
    }

    @Test(arguments: StoreKind.available)
    func labResultsStayInTheirTenant(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let acme = fixture.token("acme", scope: Self.writer)
        let initech = fixture.token("initech", scope: Self.writer)
        let accession = "SHARED-\(UUID().uuidString)"
        try await fixture.withClient { client in
            let mine = try await Self.post(client, "acme", "Observation", LabFixtures.observation(patient: GatewayFixture.patientID("acme", 24), identifier: accession), token: acme)
            let theirs = try await Self.post(client, "initech", "Observation", LabFixtures.observation(patient: GatewayFixture.patientID("initech", 24), identifier: accession), token: initech)
            let mineID = try #require(mine.json["id"] as? String)
            let theirID = try #require(theirs.json["id"] as? String)
            #expect(try await client.get("/acme/r4/Observation?identifier=\(accession)", token: acme).matchIDs == [mineID])
            #expect(try await client.get("/initech/r4/Observation?identifier=\(accession)", token: initech).matchIDs == [theirID])
            let crossRead = try await client.get("/acme/r4/Observation/\(theirID)", token: acme)
            let nowhere = try await client.get("/acme/r4/Observation/\(UUID().uuidString.lowercased())", token: acme)
            expectStatus(crossRead, 404)
            #expect(crossRead.body == nowhere.body)
            expectStatus(try await client.get("/acme/r4/Observation/\(theirID)/_history", token: acme), 404)
            expectStatus(try await client.get("/acme/r4/Observation/\(theirID)/_history/1", token: acme), 404)
            let crossUpdate = try await client.send("/acme/r4/Observation/\(theirID)", method: .put, token: acme, headers: Self.json,
                                                    body: LabFixtures.observation(patient: GatewayFixture.patientID("acme", 24)).replacingOccurrences(of: "client-chosen-id", with: theirID))
            expectStatus(crossUpdate, 404)
            let crossResult = try await Self.post(client, "acme", "DiagnosticReport", LabFixtures.report(patient: GatewayFixture.patientID("acme", 24), results: ["Observation/\(theirID)"]), token: acme)
            expectStatus(crossResult, 422)
            #expect(try await client.get("/initech/r4/Observation/\(theirID)", token: initech).json["meta"] != nil, "initech's result is untouched")
        }
    }
}
