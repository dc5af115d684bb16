import FHIRModels
import Foundation
import GatewayApp
@testable import GatewayAuth
import GatewayConfig
@testable import GatewayStore
import HummingbirdTesting
import Logging
import Testing

/// Every PHI interaction and every refusal leaves a hash-chained AuditEvent; tampering is
/// detected; and what cannot be audited is not served.
@Suite struct AuditTrailTests {
    static func events(_ repository: HMSRepository, tenant: String) async throws -> [[String: Any]] {
        var all: [[String: Any]] = []
        var after: Int64 = 0
        while true {
            let rows = try await repository.auditEvents(tenantID: HMSSeeder.tenantID(slug: tenant), after: after, limit: 1000)
            guard let last = rows.last?.integer("sequence") else { return all }
            all += rows.compactMap { row in row.string("body").flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] } }
            after = last
        }
    }

    @Test(arguments: StoreKind.available)
    func interactionsAndRefusalsAreAuditedAndChained(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let patient = GatewayFixture.patientID("initech", 9)
        let requestID = "audit-\(UUID().uuidString)"
        let token = fixture.token("initech")
        try await fixture.withClient { client in
            expectStatus(try await client.get("/initech/r4/Patient/\(patient)", token: token, headers: ["X-Request-Id": requestID + "-read"]), 200)
            expectStatus(try await client.get("/initech/r4/Encounter?patient=\(patient)", token: token, headers: ["X-Request-Id": requestID + "-search"]), 200)
            expectStatus(try await client.send("/initech/r4/Patient/_search", method: .post, token: token,
                                               headers: ["X-Request-Id": requestID + "-posted", "Content-Type": "application/x-www-form-urlencoded"],
                                               body: "gender=female&birthdate=ge1950"), 200)
            expectStatus(try await client.get("/initech/r4/Patient/\(patient)", headers: ["X-Request-Id": requestID + "-401"]), 401)
            expectStatus(try await client.get("/initech/r4/Patient/\(patient)", token: fixture.token("initech", scope: "system/Encounter.rs"),
                                              headers: ["X-Request-Id": requestID + "-403"]), 403)
            expectStatus(try await client.get("/initech/r4/metadata", headers: ["X-Request-Id": requestID + "-metadata"]), 200)
        }
        let events = try await Self.events(fixture.repository, tenant: "initech")
        func event(_ suffix: String) -> [String: Any]? {
            events.first { event in
                ((event["entity"] as? [[String: Any]]) ?? []).contains { (($0["what"] as? [String: Any])?["identifier"] as? [String: Any])?["value"] as? String == requestID + suffix }
            }
        }
        let read = try #require(event("-read"))
        #expect(read["action"] as? String == "R")
        #expect(read["outcome"] as? String == "0")
        #expect(((read["subtype"] as? [[String: Any]])?.first?["code"] as? String) == "read")
        let readEntities = (read["entity"] as? [[String: Any]]) ?? []
        #expect(readEntities.contains { (($0["what"] as? [String: Any])?["reference"] as? String) == "Patient/\(patient)" })
        let agents = (read["agent"] as? [[String: Any]]) ?? []
        #expect(agents.contains { (($0["who"] as? [String: Any])?["identifier"] as? [String: Any])?["value"] as? String == "test-app" })
        let search = try #require(event("-search"))
        #expect(search["action"] as? String == "E")
        let query = ((search["entity"] as? [[String: Any]]) ?? []).compactMap { $0["query"] as? String }.first
        #expect(query.flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) } == "patient=\(patient)")
        let posted = try #require(event("-posted"))
        let postedQuery = ((posted["entity"] as? [[String: Any]]) ?? []).compactMap { $0["query"] as? String }.first
        #expect(postedQuery.flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) } == "gender=female&birthdate=ge1950",
                "a POSTed search's body criteria are in the record")
        #expect(event("-401")?["outcome"] as? String == "4")
        #expect(event("-403")?["outcome"] as? String == "4")
        #expect(event("-metadata") == nil, "the public CapabilityStatement is not PHI")
        let texts = try await fixture.repository.auditEvents(tenantID: HMSSeeder.tenantID(slug: "initech"), after: 0, limit: 100_000).compactMap { $0.string("body") }
        #expect(!texts.contains { $0.contains("eyJ") }, "no token in the audit trail")
        #expect(!texts.contains { $0.contains("acme") || $0.contains(HMSSeeder.tenantID(slug: "acme")) }, "no other tenant's identifiers")
        let verification = try await fixture.repository.verifyAudit(tenantID: HMSSeeder.tenantID(slug: "initech"))
        #expect(verification.firstBreak == nil, "\(String(describing: verification.firstBreak))")
        #expect(verification.count >= 4)
    }

    @Test(arguments: StoreKind.available)
    func auditorsSearchTheirTenantsTrail(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let patient = GatewayFixture.patientID("initech", 11)
        let auditor = fixture.token("initech", scope: "system/AuditEvent.rs")
        try await fixture.withClient { client in
            expectStatus(try await client.get("/initech/r4/Patient/\(patient)", token: fixture.token("initech")), 200)
            expectStatus(try await client.get("/initech/r4/Patient/\(patient)", token: fixture.token("initech", scope: "system/Encounter.rs")), 403)
            let reads = try await client.get("/initech/r4/AuditEvent?patient=\(patient)&action=R&_count=50", token: auditor)
            expectStatus(reads, 200)
            #expect(!reads.resources.isEmpty)
            for event in reads.resources {
                #expect(event["resourceType"] as? String == "AuditEvent")
                #expect(event["action"] as? String == "R")
            }
            let failures = try await client.get("/initech/r4/AuditEvent?outcome=4&subtype=read&date=ge2020&_count=50", token: auditor)
            #expect(!failures.resources.isEmpty && failures.resources.allSatisfy { $0["outcome"] as? String == "4" })
            if let id = failures.matchIDs.first { expectStatus(try await client.get("/initech/r4/AuditEvent/\(id)", token: auditor), 200) }
            expectStatus(try await client.get("/initech/r4/AuditEvent", token: fixture.token("initech")), 403)
            let acmeAuditor = fixture.token("acme", scope: "system/AuditEvent.rs")
            let acmeView = try await client.get("/acme/r4/AuditEvent?patient=\(patient)", token: acmeAuditor)
            #expect(acmeView.matchIDs.isEmpty, "another tenant's trail is invisible")
            let patientToken = fixture.token("initech", scope: "patient/AuditEvent.rs", claims: ["patient": .string(patient)])
            expectStatus(try await client.get("/initech/r4/AuditEvent", token: patientToken), 403)
        }
    }

    @Test(arguments: StoreKind.available)
    func transactionEntriesAreAuditedOneByOne(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let patient = GatewayFixture.patientID("initech", 12)
        let requestID = "tx-\(UUID().uuidString)"
        try await fixture.withClient { client in
            let bundle = LabBundleTests.bundle("transaction", [
                LabBundleTests.entry(LabFixtures.observation(patient: patient), fullUrl: nil, url: "Observation"),
                LabBundleTests.entry(LabFixtures.observation(patient: patient, code: "789-8"), fullUrl: nil, url: "Observation"),
            ])
            let response = try await client.send("/initech/r4", method: .post, token: fixture.token("initech", scope: LabWriteTests.writer),
                                                 headers: LabWriteTests.json.merging(["X-Request-Id": requestID]) { $1 }, body: bundle)
            expectStatus(response, 200)
        }
        let events = try await Self.events(fixture.repository, tenant: "initech").filter { event in
            ((event["entity"] as? [[String: Any]]) ?? []).contains { (($0["what"] as? [String: Any])?["identifier"] as? [String: Any])?["value"] as? String == requestID }
        }
        let subtypes = events.compactMap { ($0["subtype"] as? [[String: Any]])?.first?["code"] as? String }.sorted()
        #expect(subtypes == ["create", "create", "transaction"], "\(subtypes)")
        for event in events where (event["subtype"] as? [[String: Any]])?.first?["code"] as? String == "create" {
            #expect(event["action"] as? String == "C")
            let references = ((event["entity"] as? [[String: Any]]) ?? []).compactMap { ($0["what"] as? [String: Any])?["reference"] as? String }
            #expect(references.contains("Patient/\(patient)") && references.contains { $0.hasPrefix("Observation/") })
        }
    }

    /// A store of its own, so tampering and failures do not touch the shared fixture.
    static func isolatedGateway() async throws -> (GatewayConfiguration, HMSRepository, GatewayFixture) {
        let fixture = try await GatewayFixture.shared(.sqlite)
        let directory = try GatewayFixture.makeDirectory()
        var configuration = fixture.configuration
        configuration.database = .sqlite(path: "\(directory)/audit.sqlite")
        let repository = try await HMSRepository.open(configuration.database, logger: testLogger)
        Task { await repository.run() }
        try await repository.migrate()
        _ = try await HMSSeeder(repository: repository, batchSize: 10).seed(tenants: [("acme", "Acme")], patientsPerTenant: 5, logger: testLogger)
        return (configuration, repository, fixture)
    }

    static func execute(_ repository: HMSRepository, _ sql: String) async throws {
        try await repository.backend.withWriteTransaction(tenantID: HMSSeeder.tenantID(slug: "acme"), lockKeys: []) { transaction in
            try await transaction.execute(SQLStatement("\(unsafeRaw: sql)"))
        }
    }

    @Test func editingDeletingOrReorderingIsDetected() async throws {
        let (configuration, repository, fixture) = try await Self.isolatedGateway()
        let application = try await GatewayApplication.build(configuration: configuration, repository: repository, logger: testLogger)
        try await application.test(.router) { client in
            for index in 0..<5 {
                expectStatus(try await client.get("/acme/r4/Patient/\(GatewayFixture.patientID("acme", index))", token: fixture.token("acme")), 200)
            }
        }
        let tenantID = HMSSeeder.tenantID(slug: "acme")
        #expect(try await repository.verifyAudit(tenantID: tenantID).firstBreak == nil)
        await #expect(throws: (any Error).self) { try await Self.execute(repository, "UPDATE audit_events SET outcome = '0'") }
        await #expect(throws: (any Error).self) { try await Self.execute(repository, "DELETE FROM audit_events") }

        // Someone with file access drops the guards and edits record 3.
        try await Self.execute(repository, "DROP TRIGGER audit_events_no_update")
        try await Self.execute(repository, "DROP TRIGGER audit_events_no_delete")
        try await Self.execute(repository, "UPDATE audit_events SET body = replace(body, '\"R\"', '\"C\"') WHERE sequence = 3")
        let edited = try await repository.verifyAudit(tenantID: tenantID)
        #expect(edited.firstBreak?.sequence == 3)
        #expect(edited.firstBreak?.problem.contains("hash") == true)
        try await Self.execute(repository, "UPDATE audit_events SET body = replace(body, '\"C\"', '\"R\"') WHERE sequence = 3")
        #expect(try await repository.verifyAudit(tenantID: tenantID).firstBreak == nil, "restoring the content restores the chain")

        // Reordering: two records swap places.
        try await Self.execute(repository, "UPDATE audit_events SET sequence = -1 WHERE sequence = 2")
        try await Self.execute(repository, "UPDATE audit_events SET sequence = 2 WHERE sequence = 4")
        try await Self.execute(repository, "UPDATE audit_events SET sequence = 4 WHERE sequence = -1")
        #expect(try await repository.verifyAudit(tenantID: tenantID).firstBreak?.sequence == 2)
        try await Self.execute(repository, "UPDATE audit_events SET sequence = -1 WHERE sequence = 2")
        try await Self.execute(repository, "UPDATE audit_events SET sequence = 2 WHERE sequence = 4")
        try await Self.execute(repository, "UPDATE audit_events SET sequence = 4 WHERE sequence = -1")

        // Deleting a record leaves a gap.
        try await Self.execute(repository, "DELETE FROM audit_events WHERE sequence = 2")
        let deleted = try await repository.verifyAudit(tenantID: tenantID)
        #expect(deleted.firstBreak?.sequence == 2)
        #expect(deleted.firstBreak?.problem.contains("missing") == true)
    }

    @Test func clearedColumnsAndDeletedNewestRecordsAreDetected() async throws {
        let (configuration, repository, fixture) = try await Self.isolatedGateway()
        let application = try await GatewayApplication.build(configuration: configuration, repository: repository, logger: testLogger)
        try await application.test(.router) { client in
            for index in 0..<5 {
                expectStatus(try await client.get("/acme/r4/Patient/\(GatewayFixture.patientID("acme", index))", token: fixture.token("acme")), 200)
            }
        }
        let tenantID = HMSSeeder.tenantID(slug: "acme")
        try await Self.execute(repository, "DROP TRIGGER audit_events_no_update")
        try await Self.execute(repository, "DROP TRIGGER audit_events_no_delete")
        let rows = try await repository.auditEvents(tenantID: tenantID, after: 0, limit: 10)
        let patients = try #require(rows.first { $0.integer("sequence") == 2 }?.string("patients"))
        let agent = try #require(rows.first { $0.integer("sequence") == 3 }?.string("agent"))
        #expect(!patients.isEmpty)
        // Hiding a record from AuditEvent?patient= by clearing its patients column breaks the chain.
        try await Self.execute(repository, "UPDATE audit_events SET patients = '' WHERE sequence = 2")
        #expect(try await repository.verifyAudit(tenantID: tenantID).firstBreak?.sequence == 2)
        try await Self.execute(repository, "UPDATE audit_events SET patients = '\(patients)' WHERE sequence = 2")
        #expect(try await repository.verifyAudit(tenantID: tenantID).firstBreak == nil)
        try await Self.execute(repository, "UPDATE audit_events SET agent = NULL WHERE sequence = 3")
        #expect(try await repository.verifyAudit(tenantID: tenantID).firstBreak?.sequence == 3)
        try await Self.execute(repository, "UPDATE audit_events SET agent = '\(agent)' WHERE sequence = 3")
        #expect(try await repository.verifyAudit(tenantID: tenantID).firstBreak == nil)

        // An anchor of the head, signed outside the database, catches deleting the newest records.
        let directory = try GatewayFixture.makeDirectory()
        let key = try AuditAnchor.signingKey(at: "\(directory)/anchor.key")
        let head = try #require(try await repository.auditHead(tenantID: tenantID))
        let document = try AuditAnchor(tenant: "acme", tenantID: tenantID, sequence: head.sequence, hash: head.hash, anchoredAt: 1_800_000_000).signed(with: key)
        let anchor = try AuditAnchor.verified(document, publicKey: try AuditAnchor.publicKey(at: "\(directory)/anchor.key.pub"))
        #expect(try await repository.checkAnchor(anchor) == nil)
        try await Self.execute(repository, "DELETE FROM audit_events WHERE sequence >= \(head.sequence - 1)")
        #expect(try await repository.verifyAudit(tenantID: tenantID).firstBreak == nil, "the shortened chain is consistent in itself")
        #expect(try await repository.checkAnchor(anchor)?.contains("gone") == true)
        // A forged anchor (another key, or an edited field) is refused.
        let other = try AuditAnchor.signingKey(at: "\(directory)/other.key")
        let forged = try AuditAnchor(tenant: "acme", tenantID: tenantID, sequence: 1, hash: head.hash, anchoredAt: 1_800_000_000).signed(with: other)
        #expect(throws: AuditAnchor.Invalid.self) { try AuditAnchor.verified(forged, publicKey: key.publicKey) }
        let edited = document.replacingOccurrences(of: "\"sequence\":\(head.sequence)", with: "\"sequence\":1")
        #expect(throws: AuditAnchor.Invalid.self) { try AuditAnchor.verified(edited, publicKey: key.publicKey) }
    }

    @Test func aWriteAndItsRecordCommitTogether() async throws {
        let (configuration, repository, fixture) = try await Self.isolatedGateway()
        let application = try await GatewayApplication.build(configuration: configuration, repository: repository, logger: testLogger)
        let patient = GatewayFixture.patientID("acme", 2)
        let token = fixture.token("acme", scope: LabWriteTests.writer)
        let tenantID = HMSSeeder.tenantID(slug: "acme")
        try await application.test(.router) { client in
            let created = try await LabWriteTests.post(client, "acme", "Observation", LabFixtures.observation(patient: patient), token: token)
            expectStatus(created, 201)
            let id = try #require(created.json["id"] as? String)
            let records = try await repository.auditEvents(tenantID: tenantID, after: 0, limit: 100)
            let creates = records.filter { $0.string("subtype") == "create" }
            #expect(creates.count == 1 && creates.first?.string("body")?.contains("Observation/\(id)") == true, "exactly one record, naming the result")

            try await Self.execute(repository, "ALTER TABLE audit_pending RENAME TO audit_pending_offline")
            let refused = try await LabWriteTests.post(client, "acme", "Observation", LabFixtures.observation(patient: patient, code: "789-8"), token: token)
            #expect(refused.status >= 500)
            #expect(!refused.body.contains("789-8"))
            try await Self.execute(repository, "ALTER TABLE audit_pending_offline RENAME TO audit_pending")
            let stored = try await client.get("/acme/r4/Observation?patient=\(patient)&code=789-8", token: token)
            #expect(stored.matchIDs.isEmpty, "a write whose record could not be written was not stored either")
            #expect(try await repository.verifyAudit(tenantID: tenantID).firstBreak == nil)
        }
    }

    @Test func aCorruptStoredBodyIsA500NotA404() async throws {
        let (configuration, repository, fixture) = try await Self.isolatedGateway()
        let application = try await GatewayApplication.build(configuration: configuration, repository: repository, logger: testLogger)
        let token = fixture.token("acme", scope: LabWriteTests.writer)
        try await application.test(.router) { client in
            let created = try await LabWriteTests.post(client, "acme", "Observation", LabFixtures.observation(patient: GatewayFixture.patientID("acme", 3)), token: token)
            let id = try #require(created.json["id"] as? String)
            try await Self.execute(repository, "UPDATE stored_resources SET body = '{not json' WHERE id = '\(id)'")
            let read = try await client.get("/acme/r4/Observation/\(id)", token: token, headers: ["X-Request-Id": "corrupt-read"])
            expectStatus(read, 500)
            #expect(read.issueCode == "exception")
            #expect(read.body.contains("corrupt-read"), "the request id lets an operator find the log line")
            #expect(!read.body.contains("not json"), "no internals in the answer")
        }
    }

    @Test func whatCannotBeAuditedIsNotServed() async throws {
        let (configuration, repository, fixture) = try await Self.isolatedGateway()
        let application = try await GatewayApplication.build(configuration: configuration, repository: repository, logger: testLogger)
        let patient = GatewayFixture.patientID("acme", 1)
        try await application.test(.router) { client in
            expectStatus(try await client.get("/acme/r4/Patient/\(patient)", token: fixture.token("acme")), 200)
            try await Self.execute(repository, "ALTER TABLE audit_pending RENAME TO audit_pending_offline")
            let refused = try await client.get("/acme/r4/Patient/\(patient)", token: fixture.token("acme"))
            expectStatus(refused, 503)
            #expect(refused.issueCode == "transient")
            #expect(!refused.body.contains("Patient\""), "no PHI in the refusal")
            let search = try await client.get("/acme/r4/Patient?_count=5", token: fixture.token("acme"))
            expectStatus(search, 503)
            #expect(!search.body.contains("family"))
            try await Self.execute(repository, "ALTER TABLE audit_pending_offline RENAME TO audit_pending")
            expectStatus(try await client.get("/acme/r4/Patient/\(patient)", token: fixture.token("acme")), 200)
        }
    }

    @Test func recordsWaitDurablyWhileTheChainCannotBeWrittenAndAreChainedAfter() async throws {
        let (configuration, repository, fixture) = try await Self.isolatedGateway()
        let application = try await GatewayApplication.build(configuration: configuration, repository: repository, logger: testLogger)
        let tenantID = HMSSeeder.tenantID(slug: "acme")
        let before = try await repository.auditEvents(tenantID: tenantID, after: 0, limit: 1000).count
        try await application.test(.router) { client in
            try await Self.execute(repository, "ALTER TABLE audit_events RENAME TO audit_events_offline")
            for number in 1...3 {
                expectStatus(try await client.get("/acme/r4/Patient/\(GatewayFixture.patientID("acme", number))", token: fixture.token("acme")), 200)
            }
            // The chain is unavailable: a read of the trail fails rather than showing a partial one.
            await #expect(throws: (any Error).self) { _ = try await repository.auditEvents(tenantID: tenantID, after: 0, limit: 1000) }
            try await Self.execute(repository, "ALTER TABLE audit_events_offline RENAME TO audit_events")
        }
        let rows = try await repository.auditEvents(tenantID: tenantID, after: 0, limit: 1000)
        let reads = rows.dropFirst(before).filter { $0.string("subtype") == "read" }
        #expect(reads.count == 3, "every served read was recorded, then chained")
        #expect(reads.map { $0.integer("sequence") ?? 0 } == Array(Int64(before + 1)...Int64(before + 3)))
        #expect(try await repository.verifyAudit(tenantID: tenantID).firstBreak == nil)
    }
}
