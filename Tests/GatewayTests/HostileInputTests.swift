import FHIRModels
import Foundation
@testable import GatewayAuth
import HummingbirdTesting
import Testing

/// What a hostile client sends never stops the process, never becomes a 5xx, and is answered
/// with a precise 4xx OperationOutcome, on both stores.
@Suite struct HostileInputTests {
    static let hostileDates = [
        "Thu, 01 Jan 2025 9999999999999999:00:00 GMT", "Thu, 01 Jan 9999999999999999 00:00:00 GMT",
        "Thu, 99999999999999999 Jan 2025 00:00:00 GMT", "Thu, 01 Jan -9223372036854775808 00:00:00 GMT",
        "Thu, 31 Feb 2025 00:00:00 GMT", "Thu, 01 Jan 2025 24:00:00 GMT", "", "GMT",
    ]

    @Test func httpDatesOutsideTheGrammarAreIgnoredNotTrapped() {
        for text in Self.hostileDates { #expect(CivilTime.parseHTTPDate(text) == nil, "\(text)") }
        #expect(CivilTime.parseHTTPDate("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777)
        #expect(CivilTime.parseHTTPDate(CivilTime.httpDate(epochSeconds: 253402300799)) == 253402300799)
    }

    @Test func numericDatesOutsideYearsOneTo9999AreMalformed() {
        for text in ["1e19", "-1e19", "9.3e18", "1e400", "253402300800"] {
            #expect(TokenVerifier.numericDate(.number(text)) == nil, "\(text)")
        }
        #expect(TokenVerifier.numericDate(.number("1700000000.9")) == 1700000000)
    }

    @Test func decimalDomain() {
        for text in ["0", "7.10", "-0.000001", "1e120", "1.5E-120", "12345678901234567890123456789012345678"] {
            #expect(DecimalDomain.contains(text), "\(text)")
        }
        for text in ["1e999999", "1e-999999", "1e121", "1e-121", "123456789012345678901234567890123456789", "1e9999999", "", "-", "1.", "1e", "0x10", "0e999999", "00e12010", "-0.00E-999999"] {
            #expect(!DecimalDomain.contains(text), "\(text)")
        }
    }

    @Test(arguments: StoreKind.available)
    func hostileHeadersAndClaimsAnswerWithoutStoppingTheProcess(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let token = fixture.token("acme")
        let patient = GatewayFixture.patientID("acme", 2)
        try await fixture.withClient { client in
            for date in Self.hostileDates {
                let response = try await client.get("/acme/r4/Patient/\(patient)", token: token, headers: ["If-Modified-Since": date])
                expectStatus(response, 200, "If-Modified-Since: \(date)")
            }
            for exp in ["1e19", "-1e19", "9.3e18"] {
                let hostile = fixture.token("acme", claims: ["exp": .number(exp)])
                let response = try await client.get("/acme/r4/Patient/\(patient)", token: hostile)
                expectStatus(response, 401, "exp \(exp)")
            }
            expectStatus(try await client.get("/acme/r4/Patient/\(patient)", token: token), 200, "the process is still serving")
        }
    }

    @Test(arguments: StoreKind.available)
    func anotherTenantsClaimIs403WhateverTheAudience(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        // initech trusts the development issuer; this token is signed by it but names acme, for acme's audience.
        let foreign = fixture.token("initech", claims: ["tenant_id": .string("acme"), "aud": .string("https://fhir.test/acme/r4")])
        let patient = GatewayFixture.patientID("initech", 1)
        try await fixture.withClient { client in
            let existing = try await client.get("/initech/r4/Patient/\(patient)", token: foreign)
            let missing = try await client.get("/initech/r4/Patient/\(UUID().uuidString.lowercased())", token: foreign)
            expectStatus(existing, 403)
            #expect(existing.issueCode == "forbidden")
            #expect(existing.body == missing.body && existing.status == missing.status)
            let expiredForeign = fixture.token("initech", claims: ["tenant_id": .string("acme"), "exp": .int(1000)])
            expectStatus(try await client.get("/initech/r4/Patient/\(patient)", token: expiredForeign), 403)
        }
    }

    @Test(arguments: StoreKind.available)
    func valuesOutsideTheStoresDomainsAre4xx(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let writer = fixture.token("acme", scope: LabWriteTests.writer)
        let patient = GatewayFixture.patientID("acme", 52)
        try await fixture.withClient { client in
            for value in ["gt1e999999", "1e-999999", "lt-1e200", "1234567890123456789012345678901234567890"] {
                let response = try await client.get("/acme/r4/Observation?value-quantity=\(value)", token: writer)
                expectStatus(response, 400, "value-quantity=\(value)")
                #expect(response.json["resourceType"] as? String == "OperationOutcome")
            }
            let huge = try await LabWriteTests.post(client, "acme", "Observation", LabFixtures.observation(patient: patient, value: "1e999999"), token: writer)
            expectStatus(huge, 400)
            let nul = LabFixtures.observation(patient: patient).replacingOccurrences(of: #""code":"718-7""#, with: #""code":"718\u0000-7""#)
            expectStatus(try await LabWriteTests.post(client, "acme", "Observation", nul, token: writer), 400)
            let nulURI = LabFixtures.observation(patient: patient).replacingOccurrences(of: #""system":"http://loinc.org""#, with: #""system":"http://loinc.org/\u0000""#)
            expectStatus(try await LabWriteTests.post(client, "acme", "Observation", nulURI, token: writer), 400)

            let many = (0..<1000).map { "code-\($0)" }.joined(separator: ",")
            let costly = try await client.get("/acme/r4/Observation?code=\(many)", token: writer)
            expectStatus(costly, 400)
            #expect(costly.issueCode == "too-costly")
            let posted = try await client.send("/acme/r4/Observation/_search", method: .post, token: writer,
                                               headers: ["Content-Type": "application/x-www-form-urlencoded"], body: "code=\(many)")
            expectStatus(posted, 400)
            let conditional = try await LabWriteTests.post(client, "acme", "Observation", LabFixtures.observation(patient: patient), token: writer,
                                                           headers: ["If-None-Exist": "code=\(many)"])
            expectStatus(conditional, 400)
            let fewButTooMany = (0..<150).map { "c\($0)" }.joined(separator: "%2C")
            let filtered = fixture.token("acme", scope: "system/Observation.rs?code=\(fewButTooMany)")
            expectStatus(try await client.get("/acme/r4/Observation?patient=\(patient)", token: filtered), 403)

            // A batch entry that fails on its data gets its own status; the others stand.
            let good = #"{"resource":\#(LabFixtures.observation(patient: patient)),"request":{"method":"POST","url":"Observation"}}"#
            let bad = #"{"resource":\#(nul),"request":{"method":"POST","url":"Observation"}}"#
            let batch = try await client.send("/acme/r4", method: .post, token: writer, headers: LabWriteTests.json,
                                              body: #"{"resourceType":"Bundle","type":"batch","entry":[\#(good),\#(bad)]}"#)
            expectStatus(batch, 200)
            let statuses = batch.entries.compactMap { ($0["response"] as? [String: Any])?["status"] as? String }
            #expect(statuses.count == 2 && statuses[0].hasPrefix("201") && statuses[1] == "400", "\(statuses)")
        }
    }

    @Test(arguments: StoreKind.available)
    func idsInAnotherSpellingNameNothing(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let writer = fixture.token("acme", scope: LabWriteTests.writer)
        let patient = GatewayFixture.patientID("acme", 53)
        try await fixture.withClient { client in
            let created = try await LabWriteTests.post(client, "acme", "Observation", LabFixtures.observation(patient: patient), token: writer)
            let id = try #require(created.json["id"] as? String)
            let upper = id.uppercased()
            let body = LabFixtures.observation(patient: patient, value: "8.00").replacingOccurrences(of: #""id":"client-chosen-id""#, with: #""id":"\#(upper)""#)
            let update = try await client.send("/acme/r4/Observation/\(upper)", method: .put, token: writer, headers: LabWriteTests.json, body: body)
            expectStatus(update, 404)
            let history = try await client.get("/acme/r4/Observation/\(id)/_history", token: writer)
            #expect(history.resources.count == 1, "no orphan version was written")
        }
    }
}
