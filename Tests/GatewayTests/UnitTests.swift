import Foundation
import FHIRModels
import FHIRSearch
@testable import GatewayAuth
import GatewayStore
import Testing

@Suite struct JSONParserTests {
    @Test func keepsNumbersAndOrderAndRefusesDuplicates() throws {
        let value = try JSONParser.parse(#"{"b":7.10,"a":[1,-2e3,"x\u00e9"],"c":null}"#)
        #expect(value.serializedString == #"{"b":7.10,"a":[1,-2e3,"xé"],"c":null}"#)
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(#"{"a":1,"a":2}"#) }
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(#"{"a":1"#) }
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse("01") }
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(deep) }
    }
}

@Suite struct FHIRDateTimeTests {
    @Test func precisionBecomesAnInterval() throws {
        let year = try #require(FHIRDateTime.parse("2024"))
        #expect(year.precision == .year && year.upper - year.lower == 366 * 86400)
        let month = try #require(FHIRDateTime.parse("2023-02"))
        #expect(month.upper - month.lower == 28 * 86400)
        let instant = try #require(FHIRDateTime.parse("2024-03-05T10:00:00+02:00"))
        #expect(CivilTime.isoInstant(epochSeconds: instant.lower) == "2024-03-05T08:00:00Z")
        for bad in ["2024-13", "2024-02-30", "24", "2024-01-01T25:00", "2024-01-01T10:00:00+99:00", "2024-01-01x"] {
            #expect(FHIRDateTime.parse(bad) == nil, "\(bad)")
        }
        #expect(CivilTime.httpDate(epochSeconds: 0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(CivilTime.parseHTTPDate("Thu, 01 Jan 1970 00:00:10 GMT") == 10)
    }
}

@Suite struct ScopeTests {
    @Test(arguments: [
        ("system/*.rs", "Patient", ScopePolicy.Access.search, true),
        ("system/*.r", "Patient", .search, false),
        ("system/*.r", "Patient", .read, true),
        ("user/Patient.read", "Patient", .search, true),
        ("user/Patient.write", "Patient", .read, false),
        ("user/Patient.*", "Patient", .read, true),
        ("system/Patient.sr", "Patient", .read, false),
        ("system/Patient.rr", "Patient", .read, false),
        ("system/Patient.cruds", "Patient", .search, true),
        ("system/Observation.rs", "Patient", .read, false),
        ("system/Patient.rs?gender=female", "Patient", .read, true),
        ("patient/*.rs", "Patient", .read, false),
        ("system/Observation.c", "Observation", ScopePolicy.Access.create, true),
        ("system/Observation.c", "Observation", .update, false),
        ("user/Observation.write", "Observation", .update, true),
        ("user/Observation.write", "Observation", .read, false),
        ("openid fhirUser", "Patient", .read, false),
        ("system/patient.rs", "Patient", .read, false),
        ("", "Patient", .read, false),
    ])
    func scopeMatrix(scope: String, type: String, access: ScopePolicy.Access, allowed: Bool) {
        #expect(ScopePolicy(scope: scope).decide(access, resourceType: type).isAllowed == allowed, "\(scope)")
    }
}

@Suite struct SearchParserTests {
    let parser = SearchParser(defaultCount: 20, maximumCount: 100, strict: false, baseURL: "https://x/acme/r4")

    @Test func parsesTypesModifiersAndPrefixes() throws {
        let request = try parser.parse(resourceType: "Encounter", parameters: [
            ("date", "ge2024-01-01"), ("date", "lt2025"), ("status", "finished,cancelled"), ("patient", "Patient/abc"), ("_count", "500"),
        ])
        #expect(request.count == 100)
        #expect(request.clauses.count == 4)
        #expect(request.clauses[2].values.count == 2)
        if case .date(let value) = request.clauses[0].values[0] { #expect(value.prefix == .ge) } else { Issue.record("date") }
        if case .reference(let value) = request.clauses[3].values[0] { #expect(value.type == "Patient" && value.id == "abc") } else { Issue.record("reference") }
        #expect(throws: FHIRError.self) { try parser.parse(resourceType: "Patient", parameters: [("birthdate", "gt20x")]) }
        #expect(throws: FHIRError.self) { try parser.parse(resourceType: "Patient", parameters: [("family:below", "x")]) }
        var strict = parser
        strict.strict = true
        #expect(throws: FHIRError.self) { try strict.parse(resourceType: "Patient", parameters: [("unknown", "x")]) }
        let lenient = try parser.parse(resourceType: "Patient", parameters: [("unknown", "x"), ("family.name", "y")])
        #expect(lenient.clauses.isEmpty && lenient.ignoredParameters == ["unknown", "family.name"])
    }
}

@Suite struct AuditHashTests {
    @Test func chainHashesAreLowercaseHexSHA256() {
        // SHA-256 of 64 zeros, a newline and the body, computed outside Swift (Python's hashlib).
        let hash = HMSRepository.chainHash(previous: HMSRepository.genesisHash, body: #"{"resourceType":"AuditEvent"}"#)
        #expect(hash == "2f20fae1cd35641bdd9e01cdb8a4200c1f345470d27bb66c03325c61274c8cca")
    }
}

@Suite struct JSONWriterTests {
    @Test func stringsAreEscapedAndRoundTrip() throws {
        let text = "plain \"quoted\" back\\slash\nline\ttab\r\u{01}\u{1F} é 漢字 🩺 end"
        let serialized = JSON.string(text).serializedString
        #expect(serialized == #""plain \"quoted\" back\\slash\nline\ttab\r\u0001\u001f é 漢字 🩺 end""#)
        #expect(try JSONParser.parse(serialized) == .string(text))
        #expect(JSON.string("").serializedString == #""""#)
    }
}

@Suite struct UUIDFormatTests {
    @Test func lowercaseFormMatchesFoundation() {
        for _ in 0..<1000 {
            let uuid = UUID()
            #expect(uuid.lowercasedString == uuid.uuidString.lowercased())
        }
        #expect(UUID(uuidString: "0005A772-C562-46E1-95F9-F12FBA03E8DA")?.lowercasedString == "0005a772-c562-46e1-95f9-f12fba03e8da")
    }
}
