import FHIRSearch
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

    /// Values for every registered parameter of a type: ones that exist in every tenant, and
    /// references to the tenant's own and to another tenant's records.
    static func generatedQueries(type: String, tenant: String, other: String) -> [String] {
        var queries: [String] = []
        for parameter in SearchRegistry.definition(for: type) {
            let name = parameter.name
            var values: [String] = []
            var modifiers: [String?] = [nil, "missing"]
            switch parameter.type {
            case .string:
                values = ["a", "Smi", "m%C3%BC", "spring"]
                modifiers += ["exact", "contains"]
            case .date:
                values = ["ge2024-01-01", "lt1990", "2025", "ne2025-06", "sa2024", "eb2026", "ap2025-01-01", "le2025-03-01T10:00:00Z"]
            case .quantity:
                values = ["gt5", "5.4", "le100%7Chttp://unitsofmeasure.org%7Cmg/dL"]
            case .reference:
                let target = parameter.targets.first ?? "Patient"
                let own = target == "Patient" ? GatewayFixture.patientID(tenant, 12) : target == "Practitioner" ? GatewayFixture.doctorID(tenant, 1) : GatewayFixture.hospitalID(tenant, 0)
                let foreign = target == "Patient" ? GatewayFixture.patientID(other, 12) : target == "Practitioner" ? GatewayFixture.doctorID(other, 1) : GatewayFixture.hospitalID(other, 0)
                values = target == "Encounter" ? [] : [own, foreign, "\(target)/\(own)", "\(own),\(foreign)"]
            case .token:
                modifiers += ["not"]
                switch name {
                case "_id": values = [GatewayFixture.patientID(tenant, 3), GatewayFixture.patientID(other, 3), "apt-\(GatewayFixture.patientID(tenant, 3))"]
                case "identifier": values = ["MRN0000012", "REG-100001", "H1", "APT-00000024", "urn:hms:\(tenant):mrn%7CMRN0000012", "urn:hms:\(other):mrn%7CMRN0000012", "urn:hms:\(tenant):mrn%7C"]
                case "gender": values = ["female", "http://hl7.org/fhir/administrative-gender%7Cmale", "%7Cfemale"]
                case "status": values = ["finished", "active", "cancelled,planned"]
                case "class": values = ["AMB", "http://terminology.hl7.org/CodeSystem/v3-ActCode%7CIMP"]
                case "intent": values = ["order", "plan"]
                case "active": values = ["true", "false"]
                case "code": values = ["308191", "http://www.nlm.nih.gov/research/umls/rxnorm%7C314076"]
                default: values = ["x"]
                }
            }
            for value in values {
                for modifier in modifiers where modifier != "missing" {
                    queries.append("\(type)?\(name)\(modifier.map { ":" + $0 } ?? "")=\(value)&_count=25")
                }
            }
            if modifiers.contains("missing") {
                queries.append("\(type)?\(name):missing=true&_count=25")
                queries.append("\(type)?\(name):missing=false&_count=25")
            }
        }
        return queries
    }

    @Test(arguments: StoreKind.available)
    func everyParameterAndModifierStaysInTheTenant(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        try await fixture.withClient { client in
            for (position, tenant) in Self.tenants.enumerated() {
                let other = Self.tenants[(position + 1) % Self.tenants.count]
                let truth = Self.groundTruth(tenant)
                let token = fixture.token(tenant)
                // HMS types here; posted lab resources have their own isolation test (LabIsolationTests).
                let types = fixture.configuration.tenant(slug: tenant)!.resourceTypes.filter { !["Observation", "DiagnosticReport"].contains($0) }
                for type in types {
                    for query in Self.generatedQueries(type: type, tenant: tenant, other: other) {
                        let pages = try await SearchTests.walk(client, "/\(tenant)/r4/\(query)", token: token)
                        var matches = 0
                        for page in pages {
                            for resource in page.resources where resource["resourceType"] as? String != "OperationOutcome" {
                                let key = "\(resource["resourceType"] as? String ?? "")/\(resource["id"] as? String ?? "")"
                                #expect(truth.contains(key), "\(tenant) \(query): \(key)")
                                matches += 1
                            }
                        }
                        let filter = query.replacingOccurrences(of: "&_count=25", with: "")
                        let count = try await client.get("/\(tenant)/r4/\(filter)&_summary=count", token: token)
                        #expect(count.json["total"] as? Int == matches, "\(tenant) \(query)")
                        if query.contains(GatewayFixture.patientID(other, 12)) && !query.contains(GatewayFixture.patientID(tenant, 12)) && !query.contains(":not") && !query.contains(":missing") {
                            #expect(matches == 0, "\(tenant) \(query)")
                        }
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
