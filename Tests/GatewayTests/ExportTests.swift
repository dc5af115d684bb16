import FHIRModels
import Foundation
import HummingbirdTesting
import Testing

/// Bulk Data `$export` end to end, as an EHR's bulk client runs it, on both stores: what a job
/// exports is exactly what the database held at its transaction time, within the token's rights;
/// a job is invisible to every other client and tenant; files at rest are sealed.
@Suite struct ExportTests {
    static func instant(_ text: String) -> Date? { ISO8601DateFormatter().date(from: text) }

    static func iso(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

    /// How many resources of `type` a search finds, last updated up to the transaction time.
    static func count(_ client: any TestClientProtocol, _ tenant: String, _ type: String, before: Date, token: String, extra: String = "") async throws -> Int {
        let answer = try await client.get("/\(tenant)/r4/\(type)?_lastUpdated=lt\(iso(before))&_summary=count\(extra)", token: token)
        expectStatus(answer, 200, "\(answer.body)")
        return answer.json["total"] as? Int ?? -1
    }

    @Test(arguments: StoreKind.available)
    func aBulkClientGetsTheWholeTenantAtOneInstant(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let token = fixture.token("acme")
        let validationDirectory = try GatewayFixture.makeDirectory()
        try await fixture.withClient { client in
            let bulk = BulkClient(client: client, token: token)
            let kickOff = try await bulk.kickOff("/acme/r4/$export")
            expectStatus(kickOff, 202, "\(kickOff.body)")
            let location = try #require(kickOff.header("Content-Location"))
            #expect(location.hasPrefix("https://fhir.test/acme/r4/$export-status/"))
            let manifestAnswer = try await bulk.finish(location)
            expectStatus(manifestAnswer, 200)
            #expect(manifestAnswer.header("Expires") != nil)
            let manifest = manifestAnswer.json
            #expect(manifest["request"] as? String == "https://fhir.test/acme/r4/$export")
            #expect(manifest["requiresAccessToken"] as? Bool == true)
            #expect(manifest["deleted"] == nil, "deleted is listed only for _since exports")
            let transactionText = try #require(manifest["transactionTime"] as? String)
            let transactionTime = try #require(Self.instant(transactionText))
            #expect(transactionTime <= Date())
            let outputs = try #require(manifest["output"] as? [[String: Any]])
            let types = Set(outputs.compactMap { $0["type"] as? String })
            #expect(types.isSuperset(of: ["Patient", "Practitioner", "Encounter", "MedicationRequest", "Organization"]))
            #expect(types.count == outputs.count, "one file per type at this size")
            var exported: [String: [String]] = [:]
            for (index, output) in outputs.enumerated() {
                let type = try #require(output["type"] as? String)
                let url = try #require(output["url"] as? String)
                #expect(url.hasPrefix("https://fhir.test/acme/r4/$export-file/"))
                let (answer, lines) = try await bulk.download(url)
                expectStatus(answer, 200)
                #expect(answer.header("Content-Type") == "application/fhir+ndjson")
                #expect(lines.count == output["count"] as? Int, "\(type): manifest count")
                for line in lines {
                    let resource = line.jsonObject
                    #expect(resource["resourceType"] as? String == type, "one type per file")
                    exported[type, default: []].append(try #require(resource["id"] as? String))
                }
                try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: "\(validationDirectory)/\(index)-\(type).ndjson"))
            }
            // What the database held at the transaction time: same counts as searches, no id twice. Other tests post and
            // update lab results of acme meanwhile: one stamped just before the transaction time but committed after the
            // job's snapshot is in the next export, and one updated since is in this export as it was. Only resources
            // changed in those recent seconds may make the counts differ.
            let after = transactionTime.addingTimeInterval(1)
            for type in ["Patient", "Practitioner", "Encounter", "MedicationRequest", "Organization", "Observation", "DiagnosticReport"] {
                let ids = exported[type] ?? []
                #expect(Set(ids).count == ids.count, "\(type): no resource twice")
                let expected = try await Self.count(client, "acme", type, before: after, token: token)
                if ["Observation", "DiagnosticReport"].contains(type) {
                    let changed = try await client.get("/acme/r4/\(type)?_lastUpdated=ge\(Self.iso(transactionTime.addingTimeInterval(-10)))&_summary=count",
                                                       token: token).json["total"] as? Int ?? 0
                    #expect(abs(expected - ids.count) <= changed, "\(type): every resource once (\(ids.count) exported, \(expected) found, \(changed) changed lately)")
                } else {
                    #expect(ids.count == expected, "\(type): every resource once")
                }
            }
            #expect(exported["Patient"]?.count == TestTenants.patientsPerTenant)

            // Another client of this tenant, the same client under another subject, another tenant: the job does not exist for them.
            let file = try #require(outputs.first?["url"] as? String)
            let strangers = [fixture.token("acme", claims: ["azp": .string("other-app")]), fixture.token("acme", claims: ["sub": .string("someone-else")])]
            for stranger in strangers {
                let status = try await client.get(relative(location), token: stranger)
                expectStatus(status, 404)
                expectStatus(try await client.get(relative(file), token: stranger), 404)
                expectStatus(try await client.send(relative(location), method: .delete, token: stranger), 404)
            }
            let jobID = String(location.split(separator: "/").last!)
            let initech = fixture.token("initech")
            expectStatus(try await client.get("/initech/r4/$export-status/\(jobID)", token: initech), 404)
            expectStatus(try await client.get("/initech/r4/\(relative(file).split(separator: "/").dropFirst(2).joined(separator: "/"))", token: initech), 404)
            // The acme token is not signed by a key initech trusts.
            expectStatus(try await client.get("/initech/r4/$export-status/\(jobID)", token: token), 401)

            // At rest, files are sealed: no resource text in them.
            let folder = "\(fixture.directory)/exports"
            let stored = FileManager.default.enumerator(atPath: folder)?.compactMap { $0 as? String }.filter { $0.contains(jobID) && $0.hasSuffix(".ndjson") } ?? []
            #expect(stored.count == outputs.count)
            for path in stored {
                let bytes = try #require(FileManager.default.contents(atPath: "\(folder)/\(path)"))
                #expect(!String(decoding: bytes, as: UTF8.self).contains("resourceType"))
            }

            // Every kick-off, poll and download has its record; the download's names the job, the file and the count.
            let auditor = fixture.token("acme", scope: "system/AuditEvent.rs")
            let downloads = try await client.get("/acme/r4/AuditEvent?subtype=export-download&_count=50", token: auditor)
            let records = downloads.resources.filter { record in
                (record["entity"] as? [[String: Any]] ?? []).contains { (($0["what"] as? [String: Any])?["identifier"] as? [String: Any])?["value"] as? String == jobID }
            }
            #expect(records.count == outputs.count)
            for subtype in ["export", "export-status", "export-complete"] {
                let found = try await client.get("/acme/r4/AuditEvent?subtype=\(subtype)&_count=50", token: auditor)
                #expect(found.body.contains(jobID), "an AuditEvent of \(subtype) names the job")
            }

            // Cancelling (deleting) a finished job removes it and its files.
            expectStatus(try await client.send(relative(location), method: .delete, token: token), 202)
            expectStatus(try await client.get(relative(location), token: token), 404)
            expectStatus(try await client.get(relative(file), token: token), 404)
        }
        let (status, output) = try MappingValidationTests.validate(validationDirectory, profile: "base")
        #expect(status == 0, "every exported line is valid R4: \(output.suffix(3000))")
    }

    @Test(arguments: StoreKind.available)
    func kickOffMistakesAreRefusedWithAnOperationOutcome(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let token = fixture.token("acme")
        try await fixture.withClient { client in
            let bulk = BulkClient(client: client, token: token)
            let refusals: [(String, [String: String], Int, String)] = [
                ("/acme/r4/$export", ["Accept": "application/fhir+json"], 400, "Prefer"),
                ("/acme/r4/$export?_outputFormat=text/csv", BulkClient.asyncHeaders, 400, "_outputFormat"),
                ("/acme/r4/$export?_type=Nope", BulkClient.asyncHeaders, 400, "_type"),
                ("/acme/r4/$export?unknown=1", BulkClient.asyncHeaders, 400, "unknown"),
                ("/acme/r4/$export?_since=yesterday", BulkClient.asyncHeaders, 400, "_since"),
                ("/acme/r4/$export?_since=2999-01-01T00:00:00Z", BulkClient.asyncHeaders, 400, "_since"),
                ("/acme/r4/$export?_since=2026-01-01", BulkClient.asyncHeaders, 400, "_since"),
                ("/acme/r4/$export?patient=Patient/x", BulkClient.asyncHeaders, 400, "patient"),
                ("/acme/r4/$export?_typeFilter=Patient", BulkClient.asyncHeaders, 400, "_typeFilter"),
                ("/acme/r4/$export?_typeFilter=Patient%3F_count%3D5", BulkClient.asyncHeaders, 400, "_typeFilter"),
                ("/acme/r4/$export?_typeFilter=Patient%3Fnonsense%3D5", BulkClient.asyncHeaders, 400, "_typeFilter"),
                ("/acme/r4/$export?_type=Patient&_typeFilter=Encounter%3Fstatus%3Dfinished", BulkClient.asyncHeaders, 400, "_typeFilter"),
                ("/acme/r4/$export?_elements=1bad", BulkClient.asyncHeaders, 400, "_elements"),
                ("/acme/r4/Patient/$export?_type=Practitioner", BulkClient.asyncHeaders, 400, "_type"),
                ("/acme/r4/Group/\(UUID().uuidString.lowercased())/$export", BulkClient.asyncHeaders, 404, ""),
                ("/acme/r4/Group/\(GatewayFixture.hospitalID("initech", 0))/$export", BulkClient.asyncHeaders, 404, ""),
                ("/acme/r4/Group/not-a-uuid/$export", BulkClient.asyncHeaders, 404, ""),
                ("/acme/r4/$export-status/\(UUID().uuidString.lowercased())", [:], 404, ""),
                ("/acme/r4/$export-status/not-a-job", [:], 404, ""),
                ("/acme/r4/$export-file/\(UUID().uuidString.lowercased())/Patient-1.ndjson", [:], 404, ""),
            ]
            for (path, headers, status, expression) in refusals {
                let answer = try await bulk.kickOff(path, headers: headers)
                expectStatus(answer, status, "\(path): \(answer.body)")
                #expect(answer.json["resourceType"] as? String == "OperationOutcome", "\(path)")
                if !expression.isEmpty { #expect(answer.body.contains(expression), "\(path) names \(expression)") }
            }
            expectStatus(try await bulk.kickOff("/acme/r4/$export", method: .put), 405)
            let notParameters = try await bulk.kickOff("/acme/r4/$export", method: .post, body: #"{"resourceType":"Patient"}"#)
            expectStatus(notParameters, 400)
            let twoValues = try await bulk.kickOff("/acme/r4/$export", method: .post,
                                                   body: #"{"resourceType":"Parameters","parameter":[{"name":"_type","valueString":"Patient","valueCode":"x"}]}"#)
            expectStatus(twoValues, 400)
            // Rights: no token, another tenant's token, a token without a grant for the type asked.
            expectStatus(try await client.send("/acme/r4/$export", method: .get, headers: BulkClient.asyncHeaders), 401)
            expectStatus(try await BulkClient(client: client, token: fixture.token("initech")).kickOff("/acme/r4/$export"), 401)
            expectStatus(try await BulkClient(client: client, token: fixture.token("acme", claims: ["tenant_id": .string("initech")])).kickOff("/acme/r4/$export"), 403)
            let observationsOnly = BulkClient(client: client, token: fixture.token("acme", scope: "system/Observation.rs"))
            expectStatus(try await observationsOnly.kickOff("/acme/r4/$export?_type=Patient"), 403)
            let anonymous = BulkClient(client: client, token: fixture.token("acme", claims: ["azp": nil, "sub": nil]))
            expectStatus(try await anonymous.kickOff("/acme/r4/$export"), 403)

            // Under Prefer: handling=lenient an unsupported parameter is reported in the manifest's error file instead.
            let lenient = try await bulk.kickOff("/acme/r4/$export?_type=Organization&includeAssociatedData=LatestProvenanceResources",
                                                 headers: ["Prefer": "respond-async, handling=lenient"])
            expectStatus(lenient, 202, "\(lenient.body)")
            let done = try await bulk.finish(try #require(lenient.header("Content-Location")))
            let errors = try #require(done.json["error"] as? [[String: Any]])
            #expect(errors.count == 1 && errors.first?["type"] as? String == "OperationOutcome")
            let (_, lines) = try await bulk.download(try #require(errors.first?["url"] as? String))
            #expect(lines.count == 1 && lines[0].contains("includeAssociatedData"))
        }
    }

    @Test(arguments: StoreKind.available)
    func patientGroupAndFiltersNarrowTheExport(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let token = fixture.token("acme")
        try await fixture.withClient { client in
            let bulk = BulkClient(client: client, token: token)
            // Patient level with a `patient` list (POST Parameters): those patients' compartments only.
            let chosen = [GatewayFixture.patientID("acme", 1), GatewayFixture.patientID("acme", 2)]
            let body = """
            {"resourceType":"Parameters","parameter":[
              {"name":"_type","valueString":"Patient,Encounter,MedicationRequest"},
              {"name":"patient","valueReference":{"reference":"Patient/\(chosen[0])"}},
              {"name":"patient","valueReference":{"reference":"Patient/\(chosen[1])"}}]}
            """
            let kickOff = try await bulk.kickOff("/acme/r4/Patient/$export", method: .post, body: body)
            expectStatus(kickOff, 202, "\(kickOff.body)")
            let done = try await bulk.finish(try #require(kickOff.header("Content-Location")))
            var patients: [String] = []
            for output in done.json["output"] as? [[String: Any]] ?? [] {
                let (_, lines) = try await bulk.download(try #require(output["url"] as? String))
                for line in lines {
                    let resource = line.jsonObject
                    if resource["resourceType"] as? String == "Patient" {
                        patients.append(resource["id"] as? String ?? "")
                    } else {
                        let subject = ((resource["subject"] as? [String: Any])?["reference"] as? String) ?? ""
                        #expect(chosen.map { "Patient/\($0)" }.contains(subject), "compartment of the chosen patients only")
                    }
                }
            }
            #expect(patients.sorted() == chosen.sorted())

            // A Group is a hospital's registered patients: the same patients a search by organization finds.
            let hospital = GatewayFixture.hospitalID("acme", 0)
            let group = try await bulk.export("/acme/r4/Group/\(hospital)/$export?_type=Patient")
            let transactionTime = try #require(Self.instant(group.manifest["transactionTime"] as? String ?? ""))
            let groupPatients = group.files.flatMap(\.lines).count
            #expect(groupPatients > 0)
            #expect(groupPatients == (try await Self.count(client, "acme", "Patient", before: transactionTime.addingTimeInterval(1), token: token,
                                                            extra: "&organization=\(hospital)")))

            // A Group with a `patient` list: only the listed patients who are the Group's members.
            let member = try #require(try await client.get("/acme/r4/Patient?organization=\(hospital)&_count=1", token: token).matchIDs.first)
            let outsider = try #require(try await client.get("/acme/r4/Patient?organization=\(GatewayFixture.hospitalID("acme", 1))&_count=1",
                                                             token: token).matchIDs.first)
            let listed = """
            {"resourceType":"Parameters","parameter":[{"name":"_type","valueString":"Patient,Encounter"},
              {"name":"patient","valueReference":{"reference":"Patient/\(member)"}},{"name":"patient","valueReference":{"reference":"Patient/\(outsider)"}}]}
            """
            let listedKickOff = try await bulk.kickOff("/acme/r4/Group/\(hospital)/$export", method: .post, body: listed)
            expectStatus(listedKickOff, 202, "\(listedKickOff.body)")
            let listedDone = try await bulk.finish(try #require(listedKickOff.header("Content-Location")))
            var owners: Set<String> = []
            for output in listedDone.json["output"] as? [[String: Any]] ?? [] {
                for line in try await bulk.download(try #require(output["url"] as? String)).1 {
                    let resource = line.jsonObject
                    owners.insert(resource["resourceType"] as? String == "Patient" ? "Patient/\(resource["id"] as? String ?? "")"
                                  : ((resource["subject"] as? [String: Any])?["reference"] as? String) ?? "")
                }
            }
            #expect(owners == ["Patient/\(member)"], "the outsider is not a member of the Group")

            // _typeFilter: the search a client would run, OR-combined for one type.
            let filtered = try await bulk.export("/acme/r4/$export?_type=Encounter&_typeFilter=Encounter%3Fstatus%3Dfinished,Encounter%3Fstatus%3Dcancelled")
            let statuses = Set(filtered.files.flatMap(\.lines).compactMap { $0.jsonObject["status"] as? String })
            #expect(!statuses.isEmpty && statuses.isSubset(of: ["finished", "cancelled"]))
            let filteredTime = try #require(Self.instant(filtered.manifest["transactionTime"] as? String ?? "")).addingTimeInterval(1)
            let expected = try await Self.count(client, "acme", "Encounter", before: filteredTime, token: token, extra: "&status=finished,cancelled")
            #expect(filtered.files.flatMap(\.lines).count == expected)

            // _since: only resources changed after it (the seeded HMS rows are older), and `deleted` is listed.
            let since = try await bulk.export("/acme/r4/$export?_type=Patient,Organization&_since=2099-01-01T00:00:00Z".replacingOccurrences(of: "2099", with: "2026"))
            #expect(since.manifest["deleted"] as? [Any] != nil)

            // _elements: the named elements and the mandatory ones, tagged SUBSETTED.
            let elements = try await bulk.export("/acme/r4/$export?_type=Patient&_elements=birthDate")
            for line in elements.files.flatMap(\.lines).prefix(5) {
                let resource = line.jsonObject
                #expect(Set(resource.keys).isSubset(of: ["resourceType", "id", "meta", "birthDate"]))
                #expect(line.contains("SUBSETTED"))
            }

            // A patient-context token exports its own compartment only.
            let me = GatewayFixture.patientID("acme", 3)
            let mine = BulkClient(client: client, token: fixture.token("acme", scope: "patient/*.rs", claims: ["patient": .string(me)]))
            let own = try await mine.export("/acme/r4/Patient/$export?_type=Patient,Encounter")
            for line in own.files.flatMap(\.lines) {
                let resource = line.jsonObject
                let owner = resource["resourceType"] as? String == "Patient" ? "Patient/\(resource["id"] as? String ?? "")"
                    : ((resource["subject"] as? [String: Any])?["reference"] as? String) ?? ""
                #expect(owner == "Patient/\(me)")
            }
            // A granular scope narrows every page as it narrows a search.
            let finishedOnly = BulkClient(client: client, token: fixture.token("acme", scope: "system/Encounter.rs?status=finished"))
            let granted = try await finishedOnly.export("/acme/r4/$export?_type=Encounter")
            #expect(granted.files.flatMap(\.lines).allSatisfy { $0.jsonObject["status"] as? String == "finished" })
        }
    }
}
