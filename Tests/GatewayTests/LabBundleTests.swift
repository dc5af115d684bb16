import Foundation
import HummingbirdTesting
import Testing

/// Transaction and batch Bundles, `$validate`, and the US Core lab examples as real partner input.
@Suite struct LabBundleTests {
    static let writer = LabWriteTests.writer

    static func entry(_ resource: String, fullUrl: String?, method: String = "POST", url: String, ifNoneExist: String? = nil) -> String {
        var request = #""method":"\#(method)","url":"\#(url)""#
        if let ifNoneExist { request += #","ifNoneExist":"\#(ifNoneExist)""# }
        let full = fullUrl.map { #""fullUrl":"\#($0)","# } ?? ""
        return "{\(full)\"resource\":\(resource),\"request\":{\(request)}}"
    }

    static func bundle(_ type: String, _ entries: [String]) -> String {
        #"{"resourceType":"Bundle","type":"\#(type)","entry":[\#(entries.joined(separator: ","))]}"#
    }

    static func post(_ client: any TestClientProtocol, _ tenant: String, _ body: String, token: String) async throws -> TestResponse {
        try await client.send("/\(tenant)/r4", method: .post, token: token, headers: LabWriteTests.json, body: body)
    }

    @Test(arguments: StoreKind.available)
    func transactionResolvesPlaceholdersAndIsAllOrNothing(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let token = fixture.token("acme", scope: Self.writer)
        let patient = GatewayFixture.patientID("acme", 30)
        let run = UUID().uuidString
        try await fixture.withClient { client in
            let first = "urn:uuid:\(UUID().uuidString.lowercased())", second = "urn:uuid:\(UUID().uuidString.lowercased())"
            let good = Self.bundle("transaction", [
                Self.entry(LabFixtures.observation(patient: patient, identifier: "\(run)-1"), fullUrl: first, url: "Observation"),
                Self.entry(LabFixtures.observation(patient: patient, code: "789-8", identifier: "\(run)-2"), fullUrl: second, url: "Observation"),
                Self.entry(LabFixtures.report(patient: patient, results: [first, second], identifier: run), fullUrl: nil, url: "DiagnosticReport"),
            ])
            let response = try await Self.post(client, "acme", good, token: token)
            expectStatus(response, 200, "\(response.body.prefix(600))")
            #expect(response.json["type"] as? String == "transaction-response")
            let statuses = response.entries.compactMap { ($0["response"] as? [String: Any])?["status"] as? String }
            #expect(statuses == ["201 Created", "201 Created", "201 Created"])
            let locations = response.entries.compactMap { ($0["response"] as? [String: Any])?["location"] as? String }
            let observationIDs = locations.prefix(2).map { $0.components(separatedBy: "/")[6] }
            let report = try await client.get("/acme/r4/DiagnosticReport?identifier=\(run)", token: token)
            let results = ((report.resources.first?["result"] as? [[String: Any]]) ?? []).compactMap { $0["reference"] as? String }
            #expect(results == observationIDs.map { "Observation/\($0)" })

            // Same transaction again with ifNoneExist: the observations are found, not duplicated, and the
            // new report points at the existing ones.
            let again = Self.bundle("transaction", [
                Self.entry(LabFixtures.observation(patient: patient, identifier: "\(run)-1"), fullUrl: first, url: "Observation",
                           ifNoneExist: "identifier=urn:oid:1.2.3.4.5|\(run)-1"),
                Self.entry(LabFixtures.report(patient: patient, results: [first], identifier: "\(run)-b"), fullUrl: nil, url: "DiagnosticReport"),
            ])
            let retried = try await Self.post(client, "acme", again, token: token)
            expectStatus(retried, 200, "\(retried.body.prefix(600))")
            #expect(retried.entries.compactMap { ($0["response"] as? [String: Any])?["status"] as? String } == ["200 OK", "201 Created"])
            let secondReport = try await client.get("/acme/r4/DiagnosticReport?identifier=\(run)-b", token: token)
            #expect(((secondReport.resources.first?["result"] as? [[String: Any]])?.first?["reference"] as? String) == "Observation/\(observationIDs[0])")

            // One bad entry rolls back everything and is named.
            let bad = Self.bundle("transaction", [
                Self.entry(LabFixtures.observation(patient: patient, identifier: "\(run)-x"), fullUrl: "urn:uuid:\(UUID().uuidString)", url: "Observation"),
                Self.entry(LabFixtures.observation(patient: patient, identifier: "\(run)-y", status: "done"), fullUrl: nil, url: "Observation"),
            ])
            let refused = try await Self.post(client, "acme", bad, token: token)
            expectStatus(refused, 400)
            #expect(refused.body.contains("Bundle.entry[1]"))
            let crossTenant = Self.bundle("transaction", [
                Self.entry(LabFixtures.observation(patient: patient, identifier: "\(run)-z"), fullUrl: nil, url: "Observation"),
                Self.entry(LabFixtures.observation(patient: GatewayFixture.patientID("initech", 30), identifier: "\(run)-w"), fullUrl: nil, url: "Observation"),
            ])
            let unresolved = try await Self.post(client, "acme", crossTenant, token: token)
            expectStatus(unresolved, 422)
            #expect(unresolved.body.contains("Bundle.entry[1]"))
            for suffix in ["x", "y", "z", "w"] {
                #expect(try await client.get("/acme/r4/Observation?identifier=\(run)-\(suffix)", token: token).matchIDs.isEmpty, "rolled back: \(suffix)")
            }
            let tooMany = Self.bundle("transaction", Array(repeating: Self.entry(LabFixtures.observation(patient: patient), fullUrl: nil, url: "Observation"), count: 501))
            expectStatus(try await Self.post(client, "acme", tooMany, token: token), 413)
            let hms = Self.bundle("transaction", [Self.entry(#"{"resourceType":"Patient"}"#, fullUrl: nil, url: "Patient")])
            expectStatus(try await Self.post(client, "acme", hms, token: token), 422)
            let readOnly = try await Self.post(client, "acme", good, token: fixture.token("acme", scope: "system/*.rs"))
            expectStatus(readOnly, 403)
        }
    }

    @Test(arguments: StoreKind.available)
    func batchEntriesStandAloneAndValidateStoresNothing(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let token = fixture.token("acme", scope: Self.writer)
        let patient = GatewayFixture.patientID("acme", 31)
        let run = UUID().uuidString
        try await fixture.withClient { client in
            let batch = Self.bundle("batch", [
                Self.entry(LabFixtures.observation(patient: patient, identifier: "\(run)-ok"), fullUrl: nil, url: "Observation"),
                Self.entry(LabFixtures.observation(patient: patient, identifier: "\(run)-bad", status: "done"), fullUrl: nil, url: "Observation"),
                Self.entry(LabFixtures.observation(patient: "00000000-0000-4000-8000-000000000000", identifier: "\(run)-ref"), fullUrl: nil, url: "Observation"),
            ])
            let response = try await Self.post(client, "acme", batch, token: token)
            expectStatus(response, 200)
            #expect(response.json["type"] as? String == "batch-response")
            let statuses = response.entries.compactMap { ($0["response"] as? [String: Any])?["status"] as? String }
            #expect(statuses.count == 3 && statuses[0] == "201 Created" && statuses[1] == "400" && statuses[2] == "422", "\(statuses)")
            #expect(try await client.get("/acme/r4/Observation?identifier=\(run)-ok", token: token).matchIDs.count == 1)

            let valid = try await client.send("/acme/r4/Observation/$validate", method: .post, token: token, headers: LabWriteTests.json,
                                              body: LabFixtures.observation(patient: patient, identifier: "\(run)-v"))
            expectStatus(valid, 200)
            #expect(valid.json["resourceType"] as? String == "OperationOutcome")
            let invalid = try await client.send("/acme/r4/Observation/$validate", method: .post, token: token, headers: LabWriteTests.json,
                                                body: LabFixtures.observation(patient: patient, status: "done"))
            expectStatus(invalid, 400)
            let parameters = #"{"resourceType":"Parameters","parameter":[{"name":"resource","resource":\#(LabFixtures.observation(patient: GatewayFixture.patientID("initech", 1)))}]}"#
            expectStatus(try await client.send("/acme/r4/Observation/$validate", method: .post, token: token, headers: LabWriteTests.json, body: parameters), 422)
            #expect(try await client.get("/acme/r4/Observation?identifier=\(run)-v", token: token).matchIDs.isEmpty)
        }
    }

    /// Rewrites the example's references to the tenant's records; Specimen and ServiceRequest stay as posted.
    static func rewriteReferences(_ value: Any, _ map: [String: String]) -> Any {
        if var object = value as? [String: Any] {
            for (key, item) in object {
                if key == "reference", let text = item as? String, let target = map[text] { object[key] = target } else { object[key] = rewriteReferences(item, map) }
            }
            return object
        }
        if let array = value as? [Any] { return array.map { rewriteReferences($0, map) } }
        return value
    }

    static func withoutIDAndMeta(_ resource: [String: Any]) -> NSDictionary {
        var copy = resource
        copy["id"] = nil
        copy["meta"] = nil
        return copy as NSDictionary
    }

    @Test(arguments: StoreKind.available)
    func usCoreLabExamplesAreAcceptedSearchableAndReadBackAsPosted(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let token = fixture.token("acme", scope: Self.writer)
        let patient = GatewayFixture.patientID("acme", 40)
        let baseReferences = [
            "Patient/example": "Patient/\(patient)", "Practitioner/practitioner-1": "Practitioner/\(GatewayFixture.doctorID("acme", 2))",
            "Organization/acme-lab": "Organization/\(GatewayFixture.hospitalID("acme", 1))",
        ]
        try await fixture.withClient { client in
            var references = baseReferences
            let encounters = try await client.get("/acme/r4/Encounter?patient=\(patient)&_count=1", token: fixture.token("acme"))
            references["Encounter/example-1"] = "Encounter/\(try #require(encounters.matchIDs.first))"
            for report in ["DiagnosticReport-cbc.json", "DiagnosticReport-metabolic-panel.json"] {
                let example = try LabFixtures.example(report)
                var resultMap: [String: String] = [:]
                var entries: [String] = []
                var originals: [String: [String: Any]] = [:]
                for result in (example["result"] as? [[String: Any]]) ?? [] {
                    let reference = try #require(result["reference"] as? String)
                    let file = "Observation-\(reference.dropFirst("Observation/".count)).json"
                    let observation = Self.rewriteReferences(try LabFixtures.example(file), references) as! [String: Any]
                    let placeholder = "urn:uuid:\(UUID().uuidString.lowercased())"
                    resultMap[reference] = placeholder
                    originals[placeholder] = observation
                    entries.append(Self.entry(try LabFixtures.jsonString(observation), fullUrl: placeholder, url: "Observation"))
                }
                let diagnostic = Self.rewriteReferences(example, references.merging(resultMap) { $1 }) as! [String: Any]
                entries.append(Self.entry(try LabFixtures.jsonString(diagnostic), fullUrl: nil, url: "DiagnosticReport"))
                let response = try await Self.post(client, "acme", Self.bundle("transaction", entries), token: token)
                expectStatus(response, 200, "\(report): \(response.body.prefix(800))")
                let locations = response.entries.compactMap { ($0["response"] as? [String: Any])?["location"] as? String }
                #expect(locations.count == entries.count)
                // Each Observation reads back as posted, apart from id and meta.
                for location in locations.dropLast() {
                    let path = relative(location.components(separatedBy: "/_history").first!)
                    let read = try await client.get(path, token: token)
                    #expect(read.status == 200)
                    let original = try #require(originals.values.first { ($0["code"] as? NSDictionary) == (read.json["code"] as? NSDictionary) })
                    #expect(Self.withoutIDAndMeta(read.json) == Self.withoutIDAndMeta(original), "\(report) \(path) differs from what was posted")
                }
            }
            let labs = try await client.get("/acme/r4/Observation?patient=\(patient)&category=laboratory&_count=50", token: token)
            #expect(labs.matchIDs.count == 16)
            let cbcDate = try await client.get("/acme/r4/Observation?patient=\(patient)&category=laboratory&date=ge2005-07-05&_count=50", token: token)
            #expect(cbcDate.matchIDs.count >= 8)
            let hemoglobin = try await client.get("/acme/r4/Observation?patient=\(patient)&code=http://loinc.org%7C718-7", token: token)
            #expect(hemoglobin.matchIDs.count == 1)
            let reports = try await client.get("/acme/r4/DiagnosticReport?patient=\(patient)&category=LAB&_include=DiagnosticReport:result", token: token)
            #expect(reports.matchIDs.count == 2)
            #expect(reports.resources.filter { $0["resourceType"] as? String == "Observation" }.count == 16)
        }
    }

    /// Every lab Observation and DiagnosticReport example of the US Core package, posted on its own
    /// with subject, performer and encounter rewritten to the tenant's records. All are accepted:
    /// the DiagnosticReports reference Observations by the package's ids, which this tenant does not
    /// have, so they are posted with their results removed (the transaction test covers results).
    @Test func everyUSCoreLabExampleIsAccepted() async throws {
        let fixture = try await GatewayFixture.shared(.sqlite)
        let token = fixture.token("acme", scope: Self.writer)
        let patient = GatewayFixture.patientID("acme", 41)
        let directory = "\(LabFixtures.sharedFHIR)/us-core/examples"
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("Observation-") || $0.hasPrefix("DiagnosticReport-") }.sorted()
        try await fixture.withClient { client in
            let encounter = try #require(try await client.get("/acme/r4/Encounter?patient=\(patient)&_count=1", token: fixture.token("acme")).matchIDs.first)
            let references = [
                "Patient/example": "Patient/\(patient)", "Practitioner/practitioner-1": "Practitioner/\(GatewayFixture.doctorID("acme", 2))",
                "Organization/acme-lab": "Organization/\(GatewayFixture.hospitalID("acme", 1))", "Encounter/example-1": "Encounter/\(encounter)",
            ]
            var accepted = 0
            for file in files {
                var example = try LabFixtures.example(file)
                let categories = ((example["category"] as? [[String: Any]]) ?? []).flatMap { ($0["coding"] as? [[String: Any]]) ?? [] }.compactMap { $0["code"] as? String }
                guard categories.contains("laboratory") || categories.contains("LAB") else { continue }
                example["result"] = nil
                let type = file.hasPrefix("Observation-") ? "Observation" : "DiagnosticReport"
                let body = try LabFixtures.jsonString(Self.rewriteReferences(example, references))
                let response = try await LabWriteTests.post(client, "acme", type, body, token: token)
                #expect(response.status == 201, "\(file): \(response.body.prefix(400))")
                accepted += 1
            }
            #expect(accepted >= 20, "lab examples found: \(accepted)")
        }
    }
}
