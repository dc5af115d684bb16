import Foundation
@testable import GatewayStore
import Testing

/// Generated searches over tenants whose data collide on purpose: every entry must belong to the
/// searching tenant, every reference must stay inside it, and counts must match what paging returns.
@Suite struct IsolationTests {
    static let tenants = ["acme", "globex", "initech"]

    /// The ids the deterministic seeder gave a tenant (a superset for prescriptions).
    static func groundTruth(_ tenant: String) -> Set<String> {
        var ids = Set<String>()
        let patients = TestTenants.patientsPerTenant
        for index in 0..<patients {
            ids.insert("Patient/" + SplitMix64.uuid(tenant, "patient", String(index)))
            for visit in 0..<2 {
                ids.insert("Encounter/apt-" + SplitMix64.uuid(tenant, "appointment", String(index), String(visit)))
                ids.insert("MedicationRequest/" + SplitMix64.uuid(tenant, "prescription", "apt/\(index)/\(visit)"))
            }
            if index % 4 == 0 {
                ids.insert("Encounter/adm-" + SplitMix64.uuid(tenant, "admission", String(index)))
                ids.insert("MedicationRequest/" + SplitMix64.uuid(tenant, "prescription", "adm/\(index)"))
            }
        }
        for index in 0..<max(4, patients / 40) { ids.insert("Practitioner/" + SplitMix64.uuid(tenant, "doctor", String(index))) }
        for index in 0..<2 { ids.insert("Organization/" + SplitMix64.uuid(tenant, "hospital", String(index))) }
        return ids
    }

    /// Queries built from values that exist in every tenant, and from ids that belong to other tenants.
    static func queries(for tenant: String, other: String) -> [String] {
        let own = GatewayFixture.patientID(tenant, 12)
        let foreign = GatewayFixture.patientID(other, 12)
        let foreignDoctor = GatewayFixture.doctorID(other, 1)
        let foreignHospital = GatewayFixture.hospitalID(other, 0)
        var queries = [
            "Patient?_count=13", "Patient?family=smith", "Patient?name=jos", "Patient?given=olivia&_count=4",
            "Patient?identifier=MRN0000012", "Patient?identifier=urn:hms:\(other):mrn%7CMRN0000012",
            "Patient?_id=\(own),\(foreign)", "Patient?birthdate=ge1970&birthdate=lt2000&_count=11", "Patient?gender=female&_sort=-birthdate&_count=8",
            "Patient?organization=\(foreignHospital)", "Patient?organization=\(GatewayFixture.hospitalID(tenant, 0))&_count=17",
            "Patient?_id=\(own)&_revinclude=Encounter:patient", "Patient?_id=\(foreign)&_revinclude=Encounter:patient",
            "Patient?family=garcia&_include=Patient:organization", "Patient?_lastUpdated=ge2025-01-01&_count=20",
            "Practitioner?_count=2", "Practitioner?identifier=REG-100001", "Practitioner?name=a",
            "Organization?name=spring", "Organization?identifier=H1",
            "Encounter?patient=\(own)", "Encounter?patient=\(foreign)", "Encounter?participant=\(foreignDoctor)",
            "Encounter?date=ge2024-09-01&_count=15&_include=Encounter:patient&_include=Encounter:participant",
            "Encounter?class=IMP&_include=Encounter:service-provider", "Encounter?service-provider=\(foreignHospital)",
            "Encounter?identifier=APT-00000024", "Encounter?status=finished,cancelled&_count=30",
        ]
        if tenant != "globex" {
            queries += [
                "MedicationRequest?patient=\(own)&_include=MedicationRequest:encounter&_include=MedicationRequest:requester",
                "MedicationRequest?patient=\(foreign)", "MedicationRequest?requester=\(foreignDoctor)",
                "MedicationRequest?status=active&authoredon=ge2024&_count=12", "MedicationRequest?code=308191&_count=9",
                "Patient?_id=\(own)&_revinclude=MedicationRequest:patient",
            ]
        }
        return queries
    }

    @Test(arguments: StoreKind.available)
    func generatedSearchesNeverCrossTenants(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        try await fixture.withClient { client in
            for (position, tenant) in Self.tenants.enumerated() {
                let other = Self.tenants[(position + 1) % Self.tenants.count]
                let truth = Self.groundTruth(tenant)
                let token = fixture.token(tenant)
                for query in Self.queries(for: tenant, other: other) {
                    let pages = try await SearchTests.walk(client, "/\(tenant)/r4/\(query)", token: token)
                    var matches = 0
                    for page in pages {
                        for entry in page.entries {
                            guard let resource = entry["resource"] as? [String: Any], let type = resource["resourceType"] as? String,
                                  type != "OperationOutcome", let id = resource["id"] as? String else { continue }
                            #expect(truth.contains("\(type)/\(id)"), "\(tenant) \(query): \(type)/\(id) is not \(tenant)'s")
                            #expect(entry["fullUrl"] as? String == "https://fhir.test/\(tenant)/r4/\(type)/\(id)")
                            for reference in Self.references(in: resource) where !reference.hasPrefix("#") {
                                #expect(truth.contains(reference), "\(tenant) \(query): reference \(reference) leaves the tenant")
                            }
                            if (entry["search"] as? [String: Any])?["mode"] as? String == "match" { matches += 1 }
                        }
                        for relation in ["self", "next"] {
                            if let url = page.link(relation) { #expect(url.hasPrefix("https://fhir.test/\(tenant)/r4/")) }
                        }
                    }
                    let base = query.components(separatedBy: "?")
                    let filters = base[1].split(separator: "&").filter { !$0.hasPrefix("_count") && !$0.hasPrefix("_include") && !$0.hasPrefix("_revinclude") && !$0.hasPrefix("_sort") }
                    let count = try await client.get("/\(tenant)/r4/\(base[0])?\(filters.joined(separator: "&"))\(filters.isEmpty ? "" : "&")_summary=count", token: token)
                    #expect(count.json["total"] as? Int == matches, "\(tenant) \(query): count \(String(describing: count.json["total"])) vs \(matches) paged")
                    if query.contains(GatewayFixture.patientID(other, 12)) || query.contains("urn:hms:\(other)") || query.contains(GatewayFixture.doctorID(other, 1)) || query.contains(GatewayFixture.hospitalID(other, 0)) {
                        if !query.contains(GatewayFixture.patientID(tenant, 12)) { #expect(matches == 0, "\(tenant) \(query) matched another tenant's id") }
                    }
                }
            }
        }
    }

    /// Every `reference` string in a resource.
    static func references(in value: Any) -> [String] {
        if let object = value as? [String: Any] {
            var found: [String] = []
            for (key, item) in object {
                if key == "reference", let text = item as? String { found.append(text) } else { found += references(in: item) }
            }
            return found
        }
        if let array = value as? [Any] { return array.flatMap(references) }
        return []
    }

    @Test(arguments: StoreKind.available)
    func collidingRecordsAreDistinctPerTenant(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        try await fixture.withClient { client in
            var seen: [String: String] = [:]
            for tenant in Self.tenants {
                let response = try await client.get("/\(tenant)/r4/Patient?identifier=MRN0000007", token: fixture.token(tenant))
                #expect(response.matchIDs.count == 1, "each tenant has exactly one MRN0000007")
                let resource = try #require(response.resources.first)
                let identifier = ((resource["identifier"] as? [[String: Any]])?.first?["system"] as? String)
                #expect(identifier == "urn:hms:\(tenant):mrn")
                if let id = response.matchIDs.first {
                    #expect(seen[id] == nil)
                    seen[id] = tenant
                }
            }
        }
    }
}
