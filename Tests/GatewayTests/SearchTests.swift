import HummingbirdTesting
import Foundation
import Testing

@Suite struct SearchTests {
    /// Follows `next` links to the end; returns every page.
    static func walk(_ client: any TestClientProtocol, _ path: String, token: String, limit: Int = 100) async throws -> [TestResponse] {
        var pages: [TestResponse] = []
        var next: String? = path
        while let url = next, pages.count < limit {
            let page = try await client.get(url, token: token)
            #expect(page.status == 200, "\(url): \(page.body.prefix(300))")
            guard page.status == 200 else { break }
            pages.append(page)
            next = page.link("next").map(relative)
        }
        return pages
    }

    @Test(arguments: StoreKind.available)
    func pagingWalksEveryPatientOnceUnderTheTenantBase(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let token = fixture.token("acme")
        try await fixture.withClient { client in
            let pages = try await Self.walk(client, "/acme/r4/Patient?_count=7", token: token)
            let ids = pages.flatMap(\.matchIDs)
            let expected = Set((0..<TestTenants.patientsPerTenant).map { GatewayFixture.patientID("acme", $0) })
            #expect(ids.count == expected.count)
            #expect(Set(ids) == expected)
            for page in pages {
                #expect(page.link("self")?.hasPrefix("https://fhir.test/acme/r4/Patient?") == true)
                if let next = page.link("next") { #expect(next.hasPrefix("https://fhir.test/acme/r4/Patient?")) }
                for entry in page.entries { #expect((entry["fullUrl"] as? String)?.hasPrefix("https://fhir.test/acme/r4/Patient/") == true) }
            }
            let count = try await client.get("/acme/r4/Patient?_summary=count", token: token)
            #expect(count.json["total"] as? Int == expected.count)
            #expect(count.entries.isEmpty)
        }
    }

    @Test(arguments: StoreKind.available)
    func sortedPagingKeepsOrderAcrossPages(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let token = fixture.token("acme")
        try await fixture.withClient { client in
            let pages = try await Self.walk(client, "/acme/r4/Patient?_sort=family,-birthdate&_count=9", token: token)
            let resources = pages.flatMap(\.resources)
            #expect(resources.count == TestTenants.patientsPerTenant)
            let keys = resources.map { resource -> (String, String) in
                let family = ((resource["name"] as? [[String: Any]])?.first?["family"] as? String) ?? ""
                return (family, resource["birthDate"] as? String ?? "")
            }
            for (previous, current) in zip(keys, keys.dropFirst()) {
                #expect(previous.0 < current.0 || (previous.0 == current.0 && previous.1 >= current.1), "\(previous) then \(current)")
            }
            let encounters = try await Self.walk(client, "/acme/r4/Encounter?_sort=-date&_count=25", token: token)
            let starts = encounters.flatMap(\.resources).compactMap { ($0["period"] as? [String: Any])?["start"] as? String }
            #expect(starts == starts.sorted(by: >))
            #expect(starts.count == encounters.flatMap(\.matchIDs).count)
        }
    }

    @Test(arguments: StoreKind.available)
    func cursorsAreBoundToTenantTypeAndQuery(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let token = fixture.token("acme")
        try await fixture.withClient { client in
            let first = try await client.get("/acme/r4/Patient?_count=5", token: token)
            let next = try #require(first.link("next"))
            let cursor = try #require(next.components(separatedBy: "_cursor=").last)
            expectStatus(try await client.get(relative(next), token: token), 200)
            var tampered = Array(cursor)
            tampered[10] = tampered[10] == "A" ? "B" : "A"
            let tamperedResponse = try await client.get("/acme/r4/Patient?_count=5&_cursor=\(String(tampered))", token: token)
            expectStatus(tamperedResponse, 400)
            #expect(tamperedResponse.issueCode == "invalid")
            let otherTenant = try await client.get("/globex/r4/Patient?_count=5&_cursor=\(cursor)", token: fixture.token("globex"))
            expectStatus(otherTenant, 400)
            let otherQuery = try await client.get("/acme/r4/Patient?_count=5&family=smith&_cursor=\(cursor)", token: token)
            expectStatus(otherQuery, 400)
            let otherType = try await client.get("/acme/r4/Practitioner?_count=5&_cursor=\(cursor)", token: token)
            expectStatus(otherType, 400)
            // Another tenant's token on acme's URL never reaches the cursor check.
            expectStatus(try await client.get(relative(next), token: fixture.token("acme", claims: ["tenant_id": .string("globex")])), 403)
        }
    }

    @Test(arguments: StoreKind.available)
    func stringSearchIsCaseAndAccentInsensitivePrefix(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let token = fixture.token("acme")
        try await fixture.withClient { client in
            let folded = try await client.get("/acme/r4/Patient?family=MULL&_count=50", token: token)
            #expect(!folded.resources.isEmpty)
            for resource in folded.resources {
                let family = ((resource["name"] as? [[String: Any]])?.first?["family"] as? String) ?? ""
                #expect(family == "Müller")
            }
            let exact = try await client.get("/acme/r4/Patient?family:exact=Müller&_count=50", token: token)
            #expect(exact.resources.count == folded.resources.count)
            let exactWrongCase = try await client.get("/acme/r4/Patient?family:exact=müller", token: token)
            #expect(exactWrongCase.resources.isEmpty)
            let contains = try await client.get("/acme/r4/Patient?family:contains=ULLE&_count=50", token: token)
            #expect(contains.resources.count == folded.resources.count)
            let apostrophe = try await client.get("/acme/r4/Patient?family=o%27bri&_count=50", token: token)
            for resource in apostrophe.resources {
                #expect(((resource["name"] as? [[String: Any]])?.first?["family"] as? String) == "O'Brien")
            }
            let wildcard = try await client.get("/acme/r4/Patient?family=%25", token: token)
            #expect(wildcard.resources.isEmpty, "LIKE wildcards in input must be literal")
            let either = try await client.get("/acme/r4/Patient?family=smith,garcia&_count=50", token: token)
            let families = Set(either.resources.compactMap { (($0["name"] as? [[String: Any]])?.first?["family"] as? String) })
            #expect(families.isSubset(of: ["Smith", "García"]) && !families.isEmpty)
        }
    }

    @Test(arguments: StoreKind.available)
    func tokenDateAndReferenceSearches(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let token = fixture.token("acme")
        let patient = GatewayFixture.patientID("acme", 4)
        try await fixture.withClient { client in
            let byMRN = try await client.get("/acme/r4/Patient?identifier=urn:hms:acme:mrn%7CMRN0000004", token: token)
            #expect(byMRN.matchIDs == [patient])
            do { let value = try await client.get("/acme/r4/Patient?identifier=MRN0000004", token: token).matchIDs; #expect(value == [patient]) }
            #expect(try await client.get("/acme/r4/Patient?identifier=urn:hms:globex:mrn%7CMRN0000004", token: token).matchIDs.isEmpty)
            do { let value = try await client.get("/acme/r4/Patient?_id=\(patient)", token: token).matchIDs; #expect(value == [patient]) }
            #expect(try await client.get("/acme/r4/Patient?_id=\(GatewayFixture.patientID("globex", 4))", token: token).matchIDs.isEmpty)

            let female = try await client.get("/acme/r4/Patient?gender=female&_count=50", token: token)
            #expect(female.resources.allSatisfy { $0["gender"] as? String == "female" } && !female.resources.isEmpty)
            let notFemale = try await client.get("/acme/r4/Patient?gender:not=female&_count=50", token: token)
            #expect(notFemale.resources.allSatisfy { $0["gender"] as? String != "female" })

            let eighties = try await client.get("/acme/r4/Patient?birthdate=ge1980-01-01&birthdate=lt1990&_count=50", token: token)
            for resource in eighties.resources {
                let birthDate = resource["birthDate"] as? String ?? ""
                #expect(birthDate >= "1980-01-01" && birthDate < "1990-01-01")
            }
            let year = try await client.get("/acme/r4/Patient?birthdate=1985&_count=50", token: token)
            #expect(year.resources.allSatisfy { ($0["birthDate"] as? String ?? "").hasPrefix("1985") })
            let bad = try await client.get("/acme/r4/Patient?birthdate=19850", token: token)
            expectStatus(bad, 400)
            #expect(((bad.json["issue"] as? [[String: Any]])?.first?["expression"] as? [String]) == ["birthdate"])
            expectStatus(try await client.get("/acme/r4/Patient?birthdate=xx2020", token: token), 400)
            expectStatus(try await client.get("/acme/r4/Patient?_count=-1", token: token), 400)
            expectStatus(try await client.get("/acme/r4/Patient?family=%00", token: token), 400)
            for edge in ["birthdate=ap0001", "birthdate=lt0001-01-02", "birthdate=gt9999-12-31", "_lastUpdated=ap9999", "date=sa9999"] {
                let type = edge.hasPrefix("date") ? "Encounter" : "Patient"
                expectStatus(try await client.get("/acme/r4/\(type)?\(edge)", token: token), 200, "\(edge)")
            }

            let encounters = try await client.get("/acme/r4/Encounter?patient=\(patient)&_count=50", token: token)
            #expect(encounters.resources.count >= 2)
            for resource in encounters.resources {
                #expect(((resource["subject"] as? [String: Any])?["reference"] as? String) == "Patient/\(patient)")
            }
            let typed = try await client.get("/acme/r4/Encounter?subject=Patient/\(patient)&_count=50", token: token)
            #expect(Set(typed.matchIDs) == Set(encounters.matchIDs))
            let absolute = try await client.get("/acme/r4/Encounter?patient=https://fhir.test/acme/r4/Patient/\(patient)", token: token)
            #expect(Set(absolute.matchIDs) == Set(encounters.matchIDs))
            let foreign = try await client.get("/acme/r4/Encounter?patient=https://fhir.test/globex/r4/Patient/\(patient)", token: token)
            #expect(foreign.matchIDs.isEmpty)
            expectStatus(try await client.get("/acme/r4/Encounter?patient=Practitioner/\(patient)", token: token), 400)

            let ambulatory = try await client.get("/acme/r4/Encounter?class=AMB&_count=50", token: token)
            #expect(ambulatory.resources.allSatisfy { (($0["class"] as? [String: Any])?["code"] as? String) == "AMB" })
            let finished = try await client.get("/acme/r4/Encounter?status=finished&date=ge2024-06-01&_count=50", token: token)
            for resource in finished.resources {
                #expect(resource["status"] as? String == "finished")
                let end = ((resource["period"] as? [String: Any])?["end"] as? String) ?? "9999"
                #expect(end >= "2024-06-01")
            }
            let requests = try await client.get("/acme/r4/MedicationRequest?patient=\(patient)&intent=order&_count=50", token: token)
            for resource in requests.resources { #expect(resource["intent"] as? String == "order") }
            #expect(try await client.get("/acme/r4/MedicationRequest?intent=plan", token: token).matchIDs.isEmpty)
            let missing = try await client.get("/acme/r4/Patient?death-date:missing=false&_count=50", token: token)
            #expect(missing.resources.allSatisfy { $0["deceasedDateTime"] != nil })
        }
    }

    @Test(arguments: StoreKind.available)
    func includesAndRevincludesStayInTheTenant(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let token = fixture.token("acme")
        let patient = GatewayFixture.patientID("acme", 8)
        try await fixture.withClient { client in
            let response = try await client.get("/acme/r4/MedicationRequest?patient=\(patient)&_include=MedicationRequest:requester&_include=MedicationRequest:patient&_include=MedicationRequest:encounter", token: token)
            let included = response.entries.filter { (($0["search"] as? [String: Any])?["mode"] as? String) == "include" }
            let types = Set(included.compactMap { ($0["resource"] as? [String: Any])?["resourceType"] as? String })
            #expect(types == ["Practitioner", "Patient", "Encounter"])
            for entry in response.entries { #expect((entry["fullUrl"] as? String)?.hasPrefix("https://fhir.test/acme/r4/") == true) }
            let reverse = try await client.get("/acme/r4/Patient?_id=\(patient)&_revinclude=Encounter:patient&_revinclude=MedicationRequest:patient", token: token)
            let reverseTypes = reverse.entries.compactMap { ($0["resource"] as? [String: Any])?["resourceType"] as? String }
            #expect(reverseTypes.first == "Patient" && reverseTypes.contains("Encounter") && reverseTypes.contains("MedicationRequest"))
            let organization = try await client.get("/acme/r4/Patient?_id=\(patient)&_include=Patient:organization", token: token)
            #expect(organization.resources.contains { $0["resourceType"] as? String == "Organization" })
        }
    }

    @Test(arguments: StoreKind.available)
    func unknownParametersAreIgnoredUnlessStrict(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let token = fixture.token("acme")
        try await fixture.withClient { client in
            let lenient = try await client.get("/acme/r4/Patient?nonsense=1&family=smith&_count=3", token: token)
            expectStatus(lenient, 200)
            #expect(lenient.link("self")?.contains("nonsense") == false)
            #expect(lenient.link("self")?.contains("family=smith") == true)
            let strict = try await client.get("/acme/r4/Patient?nonsense=1", token: token, headers: ["Prefer": "handling=strict"])
            expectStatus(strict, 400)
            expectStatus(try await client.get("/acme/r4/Patient?family:fuzzy=x", token: token), 400)
            expectStatus(try await client.get("/acme/r4/Patient?_sort=nonsense", token: token), 400)
            let capped = try await client.get("/acme/r4/Patient?_count=5000", token: token)
            #expect(capped.resources.count == 50)
            #expect(capped.link("self")?.contains("_count=50") == true)
        }
    }

    @Test(arguments: StoreKind.available)
    func postSearchElementsAndTotals(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let token = fixture.token("acme")
        try await fixture.withClient { client in
            let get = try await client.get("/acme/r4/Patient?family=smith&_count=50", token: token)
            let post = try await client.send("/acme/r4/Patient/_search", method: .post, token: token,
                                             headers: ["Content-Type": "application/x-www-form-urlencoded"], body: "family=smith&_count=50")
            expectStatus(post, 200)
            #expect(post.matchIDs == get.matchIDs)
            // Body criteria stay out of every link; the next page's sealed cursor carries them.
            let paged = try await client.send("/acme/r4/Patient/_search", method: .post, token: token,
                                              headers: ["Content-Type": "application/x-www-form-urlencoded"], body: "gender=female&_count=3")
            let everyFemale = try await client.get("/acme/r4/Patient?gender=female&_count=50", token: token)
            #expect(paged.link("self") == "https://fhir.test/acme/r4/Patient/_search")
            var walked = paged.matchIDs
            var next = paged.link("next")
            var pages = 0
            while let url = next, pages < 30 {
                #expect(!url.contains("gender") && !url.contains("female"), "no criteria in \(url)")
                let page = try await client.get(relative(url), token: token)
                expectStatus(page, 200)
                #expect(page.link("self")?.contains("female") == false)
                walked += page.matchIDs
                next = page.link("next")
                pages += 1
            }
            #expect(walked == everyFemale.matchIDs, "the carried criteria select the same patients, in order")
            let foreign = try #require(paged.link("next"))
            expectStatus(try await client.get(relative(foreign).replacingOccurrences(of: "/acme/", with: "/globex/"), token: fixture.token("globex")), 400)
            let elements = try await client.get("/acme/r4/Patient?_elements=gender&_count=2", token: token)
            for resource in elements.resources {
                #expect(Set(resource.keys) == ["resourceType", "id", "meta", "gender"])
                let tags = ((resource["meta"] as? [String: Any])?["tag"] as? [[String: Any]]) ?? []
                #expect(tags.contains { $0["code"] as? String == "SUBSETTED" })
            }
            let accurate = try await client.get("/acme/r4/Patient?_total=accurate&_count=1", token: token)
            #expect(accurate.json["total"] as? Int == TestTenants.patientsPerTenant)
            let none = try await client.get("/acme/r4/Patient?_total=none&_count=1", token: token)
            #expect(none.json["total"] == nil)
        }
    }

    @Test(arguments: StoreKind.available)
    func readGivesETagsAndHidesOtherTenants(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let token = fixture.token("acme")
        try await fixture.withClient { client in
            for type in ["Patient", "Practitioner", "Organization"] {
                let id = type == "Patient" ? GatewayFixture.patientID("acme", 5) : type == "Practitioner" ? GatewayFixture.doctorID("acme", 1) : GatewayFixture.hospitalID("acme", 0)
                let read = try await client.get("/acme/r4/\(type)/\(id)", token: token)
                expectStatus(read, 200, "\(type)")
                let etag = try #require(read.header("ETag"))
                #expect(etag.hasPrefix("W/\""))
                #expect(read.header("Last-Modified")?.hasSuffix("GMT") == true)
                let version = ((read.json["meta"] as? [String: Any])?["versionId"] as? String) ?? ""
                #expect(etag == "W/\"\(version)\"")
                expectStatus(try await client.get("/acme/r4/\(type)/\(id)", token: token, headers: ["If-None-Match": etag]), 304)
                expectStatus(try await client.get("/acme/r4/\(type)/\(id)/_history/\(version)", token: token), 200)
                expectStatus(try await client.get("/acme/r4/\(type)/\(id)/_history/1", token: token), 404)
                let otherID = id.replacingOccurrences(of: id, with: type == "Patient" ? GatewayFixture.patientID("globex", 5) : type == "Practitioner" ? GatewayFixture.doctorID("globex", 1) : GatewayFixture.hospitalID("globex", 0))
                let other = try await client.get("/acme/r4/\(type)/\(otherID)", token: token)
                let nowhere = try await client.get("/acme/r4/\(type)/\(UUID().uuidString.lowercased())", token: token)
                let malformed = try await client.get("/acme/r4/\(type)/not-a-uuid", token: token)
                for response in [other, nowhere, malformed] { expectStatus(response, 404) }
                #expect(other.body == nowhere.body && nowhere.body == malformed.body)
            }
            let encounters = try await client.get("/acme/r4/Encounter?_count=3", token: token)
            for id in encounters.matchIDs { expectStatus(try await client.get("/acme/r4/Encounter/\(id)", token: token), 200) }
            let requests = try await client.get("/acme/r4/MedicationRequest?_count=3", token: token)
            for id in requests.matchIDs { expectStatus(try await client.get("/acme/r4/MedicationRequest/\(id)", token: token), 200) }
        }
    }

    @Test(arguments: StoreKind.available)
    func negationAndUnknownPartitionTheResults(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let token = fixture.token("acme")
        try await fixture.withClient { client in
            func total(_ query: String) async throws -> Int {
                try await client.get("/acme/r4/\(query)&_summary=count", token: token).json["total"] as? Int ?? -1
            }
            let all = try await total("Encounter?_id:missing=false")
            let finished = try await total("Encounter?status=finished")
            let notFinished = try await total("Encounter?status:not=finished")
            #expect(finished > 0 && notFinished > 0 && finished + notFinished == all)
            #expect(try await total("Encounter?status=unknown") == 0)
            #expect(try await total("MedicationRequest?status=unknown") == 0)
            let requests = try await total("MedicationRequest?_lastUpdated=ge2000")
            let active = try await total("MedicationRequest?status=active")
            #expect(active + (try await total("MedicationRequest?status:not=active")) == requests)
            let living = try await total("Patient?death-date:missing=true")
            let dead = try await total("Patient?death-date:missing=false")
            #expect(living + dead == TestTenants.patientsPerTenant)
        }
    }
}
