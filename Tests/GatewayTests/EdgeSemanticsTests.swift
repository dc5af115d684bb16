import FHIRModels
import Foundation
@testable import GatewayApp
@testable import GatewayStore
import HummingbirdTesting
import Testing

/// HTTP, FHIR and SMART edges a careful integration engineer checks (issue 9), on both stores.
@Suite struct EdgeSemanticsTests {
    static let json = ["Content-Type": "application/fhir+json"]

    @Test func preferFollowsRFC7240() {
        for line in ["HANDLING=strict", "handling=\"strict\"", "handling =strict", "handling=strict; foo", "return=minimal, handling=strict"] {
            #expect(PreferHeader([line]).isStrict, "\(line)")
        }
        #expect(!PreferHeader(["handling=lenient, handling=strict"]).isStrict, "the first occurrence wins")
        #expect(!PreferHeader(["handling=lenient", "handling=strict"]).isStrict, "across header lines too")
        #expect(PreferHeader(["RETURN=minimal"])["return"] == "minimal")
        #expect(PreferHeader(["respond-async, return=\"Operation,Outcome\""])["return"] == "Operation,Outcome")
    }

    @Test func entityTagsAreOpaque() {
        #expect(EntityTag.parse("W/\"3\"") == .version(3))
        #expect(EntityTag.parse("\"3\"") == .version(3))
        #expect(EntityTag.parse("*") == .any)
        for other in ["W/\"01\"", "W/\"+2\"", "W/\"one\"", "\"\""] { #expect(EntityTag.parse(other) == .other, "\(other)") }
        for malformed in ["3", "W/3", "W/\"a b\"", "\"3", "W/\"3\", W/\"4\""] { #expect(EntityTag.parse(malformed) == nil, "\(malformed)") }
        #expect(EntityTag.version("01") == nil && EntityTag.version("1") == 1)
    }

    @Test(arguments: StoreKind.available)
    func httpSemantics(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let writer = fixture.token("acme", scope: LabWriteTests.writer)
        let patient = GatewayFixture.patientID("acme", 54)
        try await fixture.withClient { client in
            let created = try await LabWriteTests.post(client, "acme", "Observation", LabFixtures.observation(patient: patient), token: writer)
            let id = try #require(created.json["id"] as? String)
            #expect(created.header("Cache-Control") == "no-store", "PHI is not cached")
            #expect(try await client.get("/acme/r4/Patient/\(patient)", token: writer).header("Cache-Control") == "no-store")
            #expect(try await client.get("/acme/r4/metadata").header("Cache-Control") != "no-store", "public documents may be cached")

            let delete = try await client.send("/acme/r4/Observation/\(id)", method: .delete, token: writer)
            expectStatus(delete, 405)
            #expect(delete.header("Allow") == "GET, HEAD, PUT")
            let createPatient = try await client.send("/acme/r4/Patient", method: .post, token: writer, headers: Self.json, body: #"{"resourceType":"Patient"}"#)
            expectStatus(createPatient, 405)
            #expect(createPatient.header("Allow") == "GET, HEAD")
            let base = try await client.get("/acme/r4", token: writer)
            expectStatus(base, 405)
            #expect(base.header("Allow") == "POST")

            let strict = try await client.get("/acme/r4/Patient?unknown-parameter=1", token: writer, headers: ["Prefer": "HANDLING=\"strict\"; x"])
            expectStatus(strict, 400)
            let minimal = try await LabWriteTests.post(client, "acme", "Observation", LabFixtures.observation(patient: patient), token: writer,
                                                       headers: ["Prefer": "RETURN=minimal"])
            expectStatus(minimal, 201)
            #expect(minimal.body.isEmpty)

            let body = LabFixtures.observation(patient: patient, value: "7.20").replacingOccurrences(of: #""id":"client-chosen-id""#, with: #""id":"\#(id)""#)
            for (tag, status) in [("W/\"01\"", 412), ("W/\"+1\"", 412), ("W/1", 400), ("1", 400)] {
                let update = try await client.send("/acme/r4/Observation/\(id)", method: .put, token: writer,
                                                   headers: Self.json.merging(["If-Match": tag]) { $1 }, body: body)
                expectStatus(update, status, "If-Match: \(tag)")
            }
            expectStatus(try await client.get("/acme/r4/Observation/\(id)/_history/01", token: writer), 404)
            expectStatus(try await client.get("/acme/r4/Observation/\(id)/_history/1", token: writer), 200)

            let gzip = try await client.send("/acme/r4/Observation", method: .post, token: writer,
                                             headers: Self.json.merging(["Content-Encoding": "gzip"]) { $1 }, body: LabFixtures.observation(patient: patient))
            expectStatus(gzip, 415)
            for parameter in ["_sort=", "_include=", "_revinclude="] {
                expectStatus(try await client.get("/acme/r4/Patient?\(parameter)", token: writer), 400, "\(parameter)")
            }
        }
    }

    @Test func lastModifiedIsNeverLaterThanDate() async throws {
        let fixture = try await GatewayFixture.shared(.sqlite)
        let writer = fixture.token("acme", scope: LabWriteTests.writer)
        let patient = GatewayFixture.patientID("acme", 57)
        let application = try await GatewayApplication.build(configuration: fixture.configuration, repository: fixture.repository, logger: testLogger)
        try await application.test(.live) { client in
            for _ in 0..<40 {
                let created = try await LabWriteTests.post(client, "acme", "Observation", LabFixtures.observation(patient: patient), token: writer)
                expectStatus(created, 201)
                let date = try #require(created.header("Date").flatMap(CivilTime.parseHTTPDate))
                let lastModified = try #require(created.header("Last-Modified").flatMap(CivilTime.parseHTTPDate))
                #expect(lastModified <= date, "Last-Modified \(lastModified) after Date \(date)")
                try await Task.sleep(for: .milliseconds(37))
            }
        }
    }

    @Test(arguments: StoreKind.available)
    func organizationsAreSearchedByAnyPartOfTheirAddress(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let token = fixture.token("acme")
        try await fixture.withClient { client in
            let all = try await client.get("/acme/r4/Organization?_count=50", token: token)
            let first = try #require(all.resources.first)
            let id = try #require(first["id"] as? String)
            let address = try #require((first["address"] as? [[String: Any]])?.first)
            let parts = [(address["line"] as? [String])?.first, address["city"] as? String, address["state"] as? String, address["postalCode"] as? String]
            for part in parts.compactMap({ $0 }) {
                let prefix = String(part.prefix(4)).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
                let found = try await client.get("/acme/r4/Organization?address=\(prefix)&_count=50", token: token)
                expectStatus(found, 200)
                #expect(found.matchIDs.contains(id), "address=\(prefix)")
            }
            let none = try await client.get("/acme/r4/Organization?address=zzzz-no-such-place", token: token)
            #expect(none.matchIDs.isEmpty)
            let capability = try await client.get("/acme/r4/metadata")
            #expect(capability.body.contains(#""name":"address""#), "declared in the CapabilityStatement")
        }
    }

    @Test(arguments: StoreKind.available)
    func tokensAndAuditActions(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let patient = GatewayFixture.patientID("initech", 5)
        let token = fixture.token("initech")
        try await fixture.withClient { client in
            // A JWS naming a critical extension, and a padded signature, are refused.
            let parts = token.split(separator: ".").map(String.init)
            let crit = Data(#"{"alg":"ES256","kid":"x","crit":["exp"]}"#.utf8).base64EncodedString()
                .replacingOccurrences(of: "=", with: "").replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            expectStatus(try await client.get("/initech/r4/Patient/\(patient)", token: "\(crit).\(parts[1]).\(parts[2])"), 401)
            expectStatus(try await client.get("/initech/r4/Patient/\(patient)", token: token + "="), 401)
            expectStatus(try await client.get("/initech/r4/Patient/\(patient)", token: token), 200)

            // fhirUser as an absolute URL under the tenant's base.
            let doctor = GatewayFixture.doctorID("initech", 1)
            for fhirUser in ["Practitioner/\(doctor)", "https://fhir.test/initech/r4/Practitioner/\(doctor)"] {
                let user = fixture.token("initech", scope: "user/Patient.rs", claims: ["fhirUser": .string(fhirUser)])
                expectStatus(try await client.get("/initech/r4/Patient/\(patient)", token: user), 200, "\(fhirUser)")
            }
            let elsewhere = fixture.token("initech", scope: "user/Patient.rs", claims: ["fhirUser": .string("https://other.example/r4/Practitioner/\(doctor)")])
            expectStatus(try await client.get("/initech/r4/Patient/\(patient)", token: elsewhere), 403)

            let requestID = "delete-\(UUID().uuidString)"
            expectStatus(try await client.send("/initech/r4/Patient/\(patient)", method: .delete, token: token, headers: ["X-Request-Id": requestID]), 405)
            let events = try await AuditTrailTests.events(fixture.repository, tenant: "initech")
            let attempt = events.first { event in
                ((event["entity"] as? [[String: Any]]) ?? []).contains { (($0["what"] as? [String: Any])?["identifier"] as? [String: Any])?["value"] as? String == requestID }
            }
            #expect(attempt?["action"] as? String == "D", "a deletion attempt is audited as D")
        }
    }

    @Test(arguments: StoreKind.available)
    func fhirInvariantsOnWrite(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let writer = fixture.token("acme", scope: LabWriteTests.writer)
        let patient = GatewayFixture.patientID("acme", 55)
        let base = LabFixtures.observation(patient: patient)
        try await fixture.withClient { client in
            let unreferenced = base.replacingOccurrences(of: #""status":"final","#, with: #""status":"final","contained":[{"resourceType":"Specimen","id":"s1"}],"#)
            let dom3 = try await LabWriteTests.post(client, "acme", "Observation", unreferenced, token: writer)
            expectStatus(dom3, 400)
            #expect(dom3.body.contains("dom-3"))
            let contradicting = base.replacingOccurrences(of: #""subject":{"reference":"Patient/\#(patient)"}"#,
                                                          with: #""subject":{"reference":"Patient/\#(patient)","type":"Group"}"#)
            expectStatus(try await LabWriteTests.post(client, "acme", "Observation", contradicting, token: writer), 400)
            // Every reference to a type the gateway holds resolves inside the tenant, whatever the element.
            let foreign = GatewayFixture.patientID("globex", 1)
            let focus = base.replacingOccurrences(of: #""status":"final","#, with: #""status":"final","focus":[{"reference":"Patient/\#(foreign)"}],"#)
            expectStatus(try await LabWriteTests.post(client, "acme", "Observation", focus, token: writer), 422)
            let member = base.replacingOccurrences(of: #""status":"final","#, with: #""status":"final","hasMember":[{"reference":"Observation/\#(UUID().uuidString.lowercased())"}],"#)
            expectStatus(try await LabWriteTests.post(client, "acme", "Observation", member, token: writer), 422)
            let specimen = base.replacingOccurrences(of: #""status":"final","#, with: #""status":"final","specimen":{"reference":"Specimen/abc"},"#)
            expectStatus(try await LabWriteTests.post(client, "acme", "Observation", specimen, token: writer), 201, "types the gateway does not hold are kept as posted")

            // Narrative: active content and empty or malformed XHTML are refused; a plain narrative is stored.
            let ns = #"xmlns=\"http://www.w3.org/1999/xhtml\""#
            for (div, status) in [(#"<div \#(ns)><script>alert(1)</script>x</div>"#, 400), (#"<div \#(ns)><b onclick=\"x()\">x</b></div>"#, 400),
                                  (#"<div \#(ns)></div>"#, 400), (#"<div \#(ns)><b>x</i></div>"#, 400), (#"<div \#(ns)><p>Hemoglobin 7.10 g/dL</p></div>"#, 201)] {
                let narrated = base.replacingOccurrences(of: #""status":"final","#, with: #""text":{"status":"generated","div":"\#(div)"},"status":"final","#)
                expectStatus(try await LabWriteTests.post(client, "acme", "Observation", narrated, token: writer), status, "\(div)")
            }

            let entry = #"{"fullUrl":"urn:uuid:5b1f0c3e-0000-4000-8000-000000000001","resource":\#(base),"request":{"method":"POST","url":"Observation"}}"#
            for kind in ["transaction", "batch"] {
                let duplicate = try await client.send("/acme/r4", method: .post, token: writer, headers: Self.json,
                                                      body: #"{"resourceType":"Bundle","type":"\#(kind)","entry":[\#(entry),\#(entry)]}"#)
                expectStatus(duplicate, 400, "bdl-7 in a \(kind)")
                #expect(duplicate.body.contains("Bundle.entry[0]") && duplicate.body.contains("Bundle.entry[1]"))
            }
        }
    }
}
