import FHIRModels
import Foundation
import HummingbirdTesting
import Testing

/// Date search at the edges of the calendar (years 1 and 9999, offsets up to ±14:00), checked
/// against a reference implementation of the gateway's R4 range semantics written here.
@Suite struct DateBoundaryTests {
    static let firstSecond = Int64(CivilTime.days(year: 1, month: 1, day: 1)) * 86400
    static let lastSecond = Int64(CivilTime.days(year: 10000, month: 1, day: 1)) * 86400 - 1

    /// `effective[x]` values of the stored results; nil end means an ongoing period.
    static let effectives: [(label: String, json: String)] = [
        ("year-1-utc", #""effectiveDateTime":"0001-01-01T00:00:00Z""#),
        ("year-1-plus-14", #""effectiveDateTime":"0001-01-01T05:00:00+14:00""#),
        ("year-1", #""effectiveDateTime":"0001""#),
        ("last-second", #""effectiveDateTime":"9999-12-31T23:59:59Z""#),
        ("after-last-minus-14", #""effectiveDateTime":"9999-12-31T20:00:00-14:00""#),
        ("year-9999", #""effectiveDateTime":"9999""#),
        ("ordinary-day", #""effectiveDateTime":"2025-03-05""#),
        ("ongoing", #""effectivePeriod":{"start":"2025-01-01T00:00:00Z"}"#),
    ]
    static let queries = ["0001", "0001-01-01", "0001-01-01T00:00:00Z", "0001-01-01T10:00:00+14:00", "9999", "9999-12-31",
                          "9999-12-31T23:59:59Z", "9999-12-31T23:00:00-14:00", "2025-03-05", "2025"]
    static let prefixes = ["eq", "ne", "lt", "le", "gt", "ge", "sa", "eb"]

    /// The stored range of an effective value: clamped to the years both stores hold, end inclusive.
    static func stored(_ json: String) -> (start: Int64, end: Int64?) {
        let object = (try? JSONParser.parse("{\(json)}")) ?? .null
        let clamp = { (value: Int64) in min(max(value, firstSecond), lastSecond) }
        if let text = object["effectiveDateTime"]?.stringValue, let range = FHIRDateTime.parse(text) {
            return (clamp(range.lower), clamp(range.upper - 1))
        }
        let start = object["effectivePeriod"]?["start"]?.stringValue.flatMap(FHIRDateTime.parse)?.lower ?? firstSecond
        return (clamp(start), nil)
    }

    /// The reference: search range [low, high), target [start, end] (end nil: ongoing).
    static func matches(_ prefix: String, _ query: String, _ target: (start: Int64, end: Int64?)) -> Bool {
        guard let range = FHIRDateTime.parse(query) else { return false }
        let (low, high) = (range.lower, range.upper)
        switch prefix {
        case "eq": return target.end.map { low <= target.start && $0 < high } ?? false
        case "ne": return target.start < low || target.end.map { $0 >= high } ?? true
        case "lt": return target.start < low
        case "le": return target.start < high
        case "gt": return target.end.map { $0 >= high } ?? true
        case "ge": return target.end.map { $0 >= low } ?? true
        case "sa": return target.start >= high
        case "eb": return target.end.map { $0 < low } ?? false
        default: return false
        }
    }

    @Test(arguments: StoreKind.available)
    func searchesAgreeWithTheReferenceAtTheEdges(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let writer = fixture.token("acme", scope: LabWriteTests.writer)
        let patient = GatewayFixture.patientID("acme", 56)
        try await fixture.withClient { client in
            var ids: [String: String] = [:]
            for effective in Self.effectives {
                let body = LabFixtures.observation(patient: patient).replacingOccurrences(of: #""effectiveDateTime":"2025-03-05T08:30:00Z""#, with: effective.json)
                let created = try await LabWriteTests.post(client, "acme", "Observation", body, token: writer)
                expectStatus(created, 201, "\(effective.label): \(created.body.prefix(300))")
                ids[effective.label] = created.json["id"] as? String
            }
            for prefix in Self.prefixes {
                for query in Self.queries {
                    let expected = Set(Self.effectives.filter { Self.matches(prefix, query, Self.stored($0.json)) }.compactMap { ids[$0.label] })
                    let encoded = (prefix + query).replacingOccurrences(of: "+", with: "%2B")
                    let response = try await client.get("/acme/r4/Observation?patient=\(patient)&date=\(encoded)&_count=50", token: writer)
                    expectStatus(response, 200, "date=\(prefix)\(query)")
                    let labels = { (found: Set<String>) in Self.effectives.filter { ids[$0.label].map(found.contains) ?? false }.map(\.label) }
                    #expect(Set(response.matchIDs) == expected,
                            "date=\(prefix)\(query): got \(labels(Set(response.matchIDs))), expected \(labels(expected))")
                }
            }
            // A grant filtered beyond the calendar is narrowed like a search, never unfiltered.
            let future = fixture.token("acme", scope: "system/Observation.rs?date=gt9999")
            let seen = try await client.get("/acme/r4/Observation?patient=\(patient)&_count=50", token: future)
            #expect(Set(seen.matchIDs) == Set([ids["ongoing"]].compactMap { $0 }), "date=gt9999 reaches only the ongoing period")
        }
    }

    @Test(arguments: StoreKind.available)
    func noUpperBoundMeansEverythingDatedForEveryType(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let token = fixture.token("acme", scope: "system/*.rs system/AuditEvent.rs")
        try await fixture.withClient { client in
            for (type, parameter) in [("Encounter", "date"), ("Patient", "birthdate"), ("MedicationRequest", "authoredon"), ("AuditEvent", "date")] {
                func total(_ query: String) async throws -> Int {
                    let response = try await client.get("/acme/r4/\(type)?\(query)&_summary=count", token: token)
                    expectStatus(response, 200, "\(type)?\(query)")
                    return response.json["total"] as? Int ?? -1
                }
                // The audit trail grows with every request (these included): bracket each count.
                for query in ["\(parameter)=le9999-12-31", "\(parameter)=ge0001-01-01"] {
                    let before = try await total("\(parameter):missing=false")
                    let count = try await total(query)
                    let after = try await total("\(parameter):missing=false")
                    #expect(before > 0, "\(type) has dated rows")
                    #expect(before <= count && count <= after, "\(type)?\(query) is every dated row (\(before) <= \(count) <= \(after))")
                    if type != "AuditEvent" { #expect(count == before) }
                }
                #expect(try await total("\(parameter)=lt0001") == 0)
                #expect(try await total("\(parameter)=sa9999") == 0)
                #expect(try await total("\(parameter)=ge9999-12-31T23:00:00-14:00") == 0, "past the calendar in UTC")
            }
        }
    }
}
