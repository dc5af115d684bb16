import FHIRModels
import Foundation
@testable import GatewayStore
import Logging
import PostgresNIO
import Testing

/// Row-level security is the second, independent isolation layer: these queries bypass the
/// gateway's own tenant predicate on purpose and must still see nothing of other tenants.
@Suite(.enabled(if: StoreKind.postgresURL != nil, "needs the PostgreSQL started by scripts/test.sh"))
struct PostgresSecurityTests {
    static func withGatewayRole<T: Sendable>(_ body: @Sendable (PostgresClient) async throws -> T) async throws -> T {
        _ = try await GatewayFixture.shared(.postgres)
        var configuration = try PostgresBackend.endpoint(StoreKind.postgresURL!).configuration
        configuration.options.maximumConnections = 1
        configuration.options.minimumConnections = 1
        let client = PostgresClient(configuration: configuration, backgroundLogger: testLogger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    static func count(_ connection: PostgresConnection, _ sql: String) async throws -> Int {
        var total = 0
        for try await value in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: testLogger).decode(Int.self) { total = value }
        return total
    }

    @Test func queriesWithoutTheTenantPredicateSeeOnlyTheScopedTenant() async throws {
        let acme = HMSSeeder.tenantID(slug: "acme")
        try await Self.withGatewayRole { client in
            try await client.withConnection { connection in
                // No tenant set: the policy fails closed.
                do { let value = try await Self.count(connection, "SELECT count(*) FROM patients"); #expect(value == 0) }
                do { let value = try await Self.count(connection, "SELECT count(*) FROM hms_encounters"); #expect(value == 0) }
            }
            try await client.withTransaction(logger: testLogger) { connection in
                try await connection.query("SELECT set_config('app.tenant_id', \(acme), true)", logger: testLogger)
                do { let value = try await Self.count(connection, "SELECT count(*) FROM patients"); #expect(value == TestTenants.patientsPerTenant) }
                do { let value = try await Self.count(connection, "SELECT count(DISTINCT tenant_id) FROM patients"); #expect(value == 1) }
                do { let value = try await Self.count(connection, "SELECT count(*) FROM hms_encounters WHERE tenant_id <> '\(acme)'"); #expect(value == 0) }
            }
            try await client.withTransaction(logger: testLogger) { connection in
                try await connection.query("SELECT set_config('app.tenant_id', '', true)", logger: testLogger)
                do { let value = try await Self.count(connection, "SELECT count(*) FROM patients"); #expect(value == 0) }
            }
        }
    }

    /// The accepted client assertions (schema version 12) follow the same policy: nothing without a
    /// tenant, nothing of another tenant, no row written for another tenant.
    @Test func clientAssertionsAreTenantIsolated() async throws {
        let acme = HMSSeeder.tenantID(slug: "acme"), globex = HMSSeeder.tenantID(slug: "globex")
        let fixture = try await GatewayFixture.shared(.postgres)
        let jti = UUID().uuidString
        #expect(try await fixture.repository.rememberAssertion(tenantID: acme, clientID: "rls-client", jti: jti, until: Int64(Date().timeIntervalSince1970) + 300,
                                                               now: Int64(Date().timeIntervalSince1970)))
        try await Self.withGatewayRole { client in
            try await client.withConnection { connection in
                do { let value = try await Self.count(connection, "SELECT count(*) FROM gateway_client_assertions"); #expect(value == 0) }
            }
            try await client.withTransaction(logger: testLogger) { connection in
                try await connection.query("SELECT set_config('app.tenant_id', \(globex), true)", logger: testLogger)
                do { let value = try await Self.count(connection, "SELECT count(*) FROM gateway_client_assertions WHERE jti = '\(jti)'"); #expect(value == 0) }
            }
            try await client.withTransaction(logger: testLogger) { connection in
                try await connection.query("SELECT set_config('app.tenant_id', \(acme), true)", logger: testLogger)
                do { let value = try await Self.count(connection, "SELECT count(*) FROM gateway_client_assertions WHERE jti = '\(jti)'"); #expect(value == 1) }
            }
            await #expect(throws: (any Error).self, "a row of another tenant is refused by the policy") {
                try await client.withTransaction(logger: testLogger) { connection in
                    try await connection.query("SELECT set_config('app.tenant_id', \(globex), true)", logger: testLogger)
                    try await connection.query("INSERT INTO gateway_client_assertions (tenant_id, client_id, jti, expires_at) VALUES (\(acme)::uuid, 'x', 'y', 0)",
                                               logger: testLogger)
                }
            }
        }
    }

    @Test func aPooledConnectionCarriesNoTenantIntoTheNextRequest() async throws {
        let acme = HMSSeeder.tenantID(slug: "acme")
        try await Self.withGatewayRole { client in
            try await client.withTransaction(logger: testLogger) { connection in
                try await connection.query("SELECT set_config('app.tenant_id', \(acme), true)", logger: testLogger)
            }
            // maximumConnections is 1, so this is the same connection.
            try await client.withConnection { connection in
                var setting: String? = "unset"
                for try await value in try await connection.query("SELECT current_setting('app.tenant_id', true)", logger: testLogger).decode(String?.self) {
                    setting = value
                }
                #expect(setting == nil || setting == "")
                do { let value = try await Self.count(connection, "SELECT count(*) FROM patients"); #expect(value == 0) }
            }
        }
    }

    @Test func aTenantScopedStatementSetsItsTenantForItselfOnly() async throws {
        let acme = HMSSeeder.tenantID(slug: "acme")
        let globex = HMSSeeder.tenantID(slug: "globex")
        // No tenant predicate of its own: only the statement's setting and the policy confine it.
        let scoped = PostgresBackend.tenantScoped("SELECT t.tenant_id::text AS tenant, count(*) AS total FROM patients t GROUP BY t.tenant_id", tenantID: acme)
        try await Self.withGatewayRole { client in
            try await client.withConnection { connection in
                let query = PostgresQuery(unsafeSQL: scoped.postgresSQL(), binds: try PostgresBackend.bindings(scoped.binds))
                var seen: [String: Int] = [:]
                for try await (tenant, total) in try await connection.query(query, logger: testLogger).decode((String, Int).self) { seen[tenant] = total }
                #expect(seen == [acme: TestTenants.patientsPerTenant])
                #expect(seen[globex] == nil)
                // The same connection afterwards: no tenant, and the policy sees nothing.
                var setting: String? = "unset"
                for try await value in try await connection.query("SELECT current_setting('app.tenant_id', true)", logger: testLogger).decode(String?.self) {
                    setting = value
                }
                #expect(setting == nil || setting == "")
                do { let value = try await Self.count(connection, "SELECT count(*) FROM patients"); #expect(value == 0) }
            }
        }
    }

    @Test func oneEnqueueStatementFilesEachRecordUnderItsOwnTenant() async throws {
        let acme = HMSSeeder.tenantID(slug: "acme")
        let initech = HMSSeeder.tenantID(slug: "initech")
        let ids = [UUID().lowercasedString, UUID().lowercasedString, UUID().lowercasedString]
        // Real AuditEvents: once chained they are part of the shared fixture's trail, which other tests search.
        func record(_ tenant: String, _ id: String) -> JSON {
            let event: JSON = .object([
                "resourceType": .string("AuditEvent"), "id": .string(id),
                "type": .object(["system": .string("http://terminology.hl7.org/CodeSystem/audit-event-type"), "code": .string("rest")]),
                "action": .string("R"), "recorded": .string("2026-11-30T12:00:00Z"), "outcome": .string("0"),
                "agent": .array([.object(["who": .object(["identifier": .object(["value": .string("security-test")])]), "requestor": .bool(false)])]),
                "source": .object(["observer": .object(["display": .string("fhir-gateway")])]),
            ])
            return .object(["tenant_id": .string(tenant), "id": .string(id), "recorded": .string("2026-11-30T12:00:00Z"), "action": .string("R"),
                            "subtype": .string("read"), "outcome": .string("0"), "agent": .null, "patients": .string(""),
                            "body": .string(event.serializedString)])
        }
        let batch = JSON.array([record(acme, ids[0]), record(initech, ids[1]), record(acme, ids[2])]).serializedString
        try await Self.withGatewayRole { client in
            try await client.withConnection { connection in
                for try await inserted in try await connection.query("SELECT gw_audit_enqueue(\(batch)::jsonb)", logger: testLogger).decode(Int.self) {
                    #expect(inserted == 3)
                }
                var setting: String? = "unset"
                for try await value in try await connection.query("SELECT current_setting('app.tenant_id', true)", logger: testLogger).decode(String?.self) {
                    setting = value
                }
                #expect(setting == nil || setting == "", "no tenant is left set after the statement")
                var listed: String? = "unset"
                for try await value in try await connection.query("SELECT current_setting('app.audit_tenants', true)", logger: testLogger).decode(String?.self) {
                    listed = value
                }
                #expect(listed == nil || listed == "", "no enqueue list is left set either")
                // Without the function's list, a plain insert for a tenant that is not set is refused.
                await #expect(throws: (any Error).self) {
                    try await connection.query("INSERT INTO audit_pending (tenant_id, id, recorded, action, subtype, outcome, patients, body) VALUES (\(acme)::uuid, gen_random_uuid(), now(), 'R', 'read', '0', '', '{}')", logger: testLogger)
                }
            }
            for (tenant, expected) in [(acme, [ids[0], ids[2]]), (initech, [ids[1]])] {
                let seen = try await client.withTransaction(logger: testLogger) { connection in
                    try await connection.query("SELECT set_config('app.tenant_id', \(tenant), true)", logger: testLogger)
                    var seen: [String] = []
                    let list = ids.map { "'\($0)'" }.joined(separator: ", ")
                    // Waiting, or already chained by a seal running for the shared fixture meanwhile.
                    let sql = "SELECT id::text FROM audit_pending WHERE id IN (\(list)) UNION ALL SELECT id::text FROM audit_events WHERE id IN (\(list))"
                    for try await id in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: testLogger).decode(String.self) { seen.append(id) }
                    return seen
                }
                #expect(seen.sorted() == expected.sorted(), "each tenant sees exactly its own records")
            }
        }
    }

    @Test func theGatewayRoleCannotWriteOwnOrBypass() async throws {
        try await Self.withGatewayRole { client in
            try await client.withConnection { connection in
                do { let value = try await Self.count(connection, "SELECT count(*) FROM pg_roles WHERE rolname = current_user AND (rolbypassrls OR rolsuper)"); #expect(value == 0) }
                do { let value = try await Self.count(connection, "SELECT count(*) FROM pg_tables WHERE tableowner = current_user"); #expect(value == 0) }
                do { let value = try await Self.count(connection, "SELECT count(*) FROM pg_class WHERE relname = 'patients' AND relforcerowsecurity AND relrowsecurity"); #expect(value == 1) }
                await #expect(throws: (any Error).self) {
                    try await connection.query("DELETE FROM patients", logger: testLogger)
                }
                await #expect(throws: (any Error).self) {
                    try await connection.query("ALTER TABLE patients DISABLE ROW LEVEL SECURITY", logger: testLogger)
                }
            }
        }
    }
}

extension PostgresSecurityTests {
    @Test func storedLabResourcesAreUnderRowLevelSecurityToo() async throws {
        let fixture = try await GatewayFixture.shared(.postgres)
        let token = fixture.token("acme", scope: LabWriteTests.writer)
        try await fixture.withClient { client in
            let response = try await LabWriteTests.post(client, "acme", "Observation", LabFixtures.observation(patient: GatewayFixture.patientID("acme", 50)), token: token)
            expectStatus(response, 201)
        }
        try await Self.withGatewayRole { client in
            try await client.withConnection { connection in
                for table in ["stored_resources", "stored_resource_versions", "stored_resource_tokens"] {
                    let count = try await Self.count(connection, "SELECT count(*) FROM \(table)")
                    #expect(count == 0, "\(table) without a tenant setting")
                }
                await #expect(throws: (any Error).self) {
                    try await connection.query("DELETE FROM stored_resource_versions", logger: testLogger)
                }
            }
            let acme = HMSSeeder.tenantID(slug: "acme")
            try await client.withTransaction(logger: testLogger) { connection in
                try await connection.query("SELECT set_config('app.tenant_id', \(acme), true)", logger: testLogger)
                let others = try await Self.count(connection, "SELECT count(*) FROM stored_resources WHERE tenant_id <> '\(acme)'")
                #expect(others == 0)
                let mine = try await Self.count(connection, "SELECT count(*) FROM stored_resources")
                #expect(mine > 0)
                // Writing a row for another tenant is refused by the policy's WITH CHECK.
                await #expect(throws: (any Error).self) {
                    try await connection.query("INSERT INTO stored_resource_tokens (tenant_id, resource_type, id, parameter, system, code) VALUES ('\(HMSSeeder.tenantID(slug: "initech"))', 'Observation', gen_random_uuid(), 'code', '', 'x')", logger: testLogger)
                }
            }
        }
    }
}

extension PostgresSecurityTests {
    @Test func theGatewayRoleMayOnlyAppendAuditEvents() async throws {
        let fixture = try await GatewayFixture.shared(.postgres)
        try await fixture.withClient { client in
            expectStatus(try await client.get("/acme/r4/Patient/\(GatewayFixture.patientID("acme", 1))", token: fixture.token("acme")), 200)
        }
        let acme = HMSSeeder.tenantID(slug: "acme")
        try await Self.withGatewayRole { client in
            let initech = HMSSeeder.tenantID(slug: "initech")
            let tampering = ["UPDATE audit_events SET outcome = '0'", "DELETE FROM audit_events", "TRUNCATE audit_events",
                             "UPDATE audit_pending SET outcome = '0'", "DELETE FROM audit_pending", "TRUNCATE audit_pending",
                             // The seal function only moves waiting records of the transaction's own tenant, and all it is given.
                             "SELECT gw_audit_seal('\(initech)', '[]'::jsonb)",
                             "SELECT gw_audit_seal('\(acme)', '[{\"arrival\": -1, \"sequence\": 999999, \"previous\": \"x\", \"hash\": \"y\"}]'::jsonb)"]
            for statement in tampering {
                await #expect(throws: (any Error).self, "\(statement)") {
                    try await client.withTransaction(logger: testLogger) { connection in
                        try await connection.query("SELECT set_config('app.tenant_id', \(acme), true)", logger: testLogger)
                        for try await _ in try await connection.query(PostgresQuery(unsafeSQL: statement), logger: testLogger) {}
                    }
                }
            }
            let visible = try await client.withTransaction(logger: testLogger) { connection in
                try await connection.query("SELECT set_config('app.tenant_id', \(acme), true)", logger: testLogger)
                return try await Self.count(connection, "SELECT count(*) FROM audit_events")
            }
            #expect(visible > 0)
        }
        let verification = try await fixture.repository.verifyAudit(tenantID: acme)
        #expect(verification.firstBreak == nil)
    }
}
