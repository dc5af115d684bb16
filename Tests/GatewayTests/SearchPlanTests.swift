import FHIRSearch
@testable import GatewayAuth
@testable import GatewayStore
import HMSMapping
import PostgresNIO
import Testing

/// Under row-level security PostgreSQL turns only leakproof conditions into index conditions: a
/// name search must reach the folded-name index as a range, not filter the whole tenant row by row.
@Suite(.enabled(if: StoreKind.postgresURL != nil, "needs the PostgreSQL started by scripts/test.sh"))
struct SearchPlanTests {
    static func plan(_ type: String, _ parameters: [(String, String)], count: Bool = false, bitmaps: Bool = true) async throws -> String {
        let tenantID = HMSSeeder.tenantID(slug: "acme")
        let scope = TenantScope(slug: "acme", tenantID: tenantID, subject: nil, clientID: nil, scope: "system/*.rs", patient: nil, fhirUser: nil)
        let parser = SearchParser(defaultCount: 10, maximumCount: 50, strict: true, baseURL: "https://fhir.test/acme/r4")
        let request = try parser.parse(resourceType: type, parameters: parameters)
        let builder = HMSQueryBuilder(table: try #require(HMSResourceTable.for(type)), scope: scope)
        let statement = PostgresBackend.tenantScoped(count ? builder.count(request) : builder.search(request, after: nil, limit: 21), tenantID: tenantID)
        // Plans of these few rows are near ties that statistics decide; other tests keep adding tenants (a Practitioner count
        // once took the tenant index with the prefix as a filter in CI), so the statistics are made current first.
        ExportResumeTests.psql("ANALYZE patients, doctors, hospitals")
        return try await PostgresSecurityTests.withGatewayRole { client in
            try await client.withConnection { connection in
                // The test tenants are small enough for a scan to be cheapest; what matters is whether an index range is possible.
                try await connection.query("SET enable_seqscan = off", logger: testLogger)
                try await connection.query(PostgresQuery(unsafeSQL: "SET enable_bitmapscan = \(bitmaps ? "on" : "off")"), logger: testLogger)
                defer { Task { try? await connection.query("RESET enable_seqscan; RESET enable_bitmapscan", logger: testLogger) } }
                let query = PostgresQuery(unsafeSQL: "EXPLAIN " + statement.postgresSQL(), binds: try PostgresBackend.bindings(statement.binds))
                var lines: [String] = []
                for try await line in try await connection.query(query, logger: testLogger).decode(String.self) { lines.append(line) }
                return lines.joined(separator: "\n")
            }
        }
    }

    @Test func namePrefixesAreIndexRanges() async throws {
        for (type, parameter, column) in [("Patient", "family", "family_name_folded"), ("Patient", "given", "given_name_folded"),
                                          ("Practitioner", "family", "family_name_folded"), ("Organization", "name", "name_folded")] {
            // A page of a small table may rather walk the id order; a count has no order to prefer.
            for count in type == "Patient" ? [false, true] : [true] {
                func isRange(_ plan: String) -> Bool {
                    plan.contains("Index Cond") && plan.contains("\(column) ~>=~ 'zzyzx'::text") && plan.contains("\(column) ~<~ 'zzyzy'::text")
                }
                var plan = try await Self.plan(type, [(parameter, "Zzyzx")], count: count)
                // On a few rows a bitmap scan of the tenant's index with the prefix as a filter can cost the same (it won in CI
                // once other tests had added tenants); the range must then be what the planner finds without bitmaps.
                if !isRange(plan) { plan = try await Self.plan(type, [(parameter, "Zzyzx")], count: count, bitmaps: false) }
                #expect(isRange(plan),
                        "\(type)?\(parameter)\(count ? " (count)" : ""):\n\(plan)")
                #expect(!plan.contains("Seq Scan"), "\(type)?\(parameter)")
            }
        }
    }

    @Test func nameSortsWalkAnIndexInOrder() async throws {
        for (type, sort, index) in [("Patient", "family", "patients_tenant_id_family_name_id_idx"),
                                    ("Practitioner", "family", "doctors_tenant_id_family_name_id_idx"),
                                    ("Organization", "name", "hospitals_tenant_id_name_id_idx")] {
            let plan = try await Self.plan(type, [("_sort", sort), ("_count", "20")])
            #expect(plan.contains(index) && !plan.contains("Sort Key"), "\(type)?_sort=\(sort) sorts the tenant:\n\(plan)")
        }
    }
}
