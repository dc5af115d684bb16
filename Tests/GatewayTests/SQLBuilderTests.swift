import FHIRModels
import FHIRSearch
@testable import GatewayAuth
@testable import GatewayStore
import HMSMapping
import Testing

/// The SQL builder without a database: the tenant predicate comes first, every value is a bind,
/// and no client text ever reaches the SQL itself.
@Suite struct SQLBuilderTests {
    static let tenantID = "7d6f3f1e-3b7a-4c52-9a43-2d1c1f3e5a10"
    static let scope = TenantScope(slug: "acme", tenantID: tenantID, subject: nil, clientID: nil, scope: "system/*.rs", patient: nil, fhirUser: nil)
    static let hostile = ["'; DROP TABLE patients; --", "x' OR '1'='1", "\\", "%_", "?", "$1", "Robert'); --", "ünïcødé"]

    static func placeholders(_ statement: SQLStatement) -> Int { statement.sql.filter { $0 == "?" }.count }

    static func search(_ type: String, _ parameters: [(String, String)], scope: TenantScope = scope) throws -> SQLStatement {
        let parser = SearchParser(defaultCount: 10, maximumCount: 50, strict: true, baseURL: "https://fhir.test/acme/r4")
        let request = try parser.parse(resourceType: type, parameters: parameters)
        let table = try #require(HMSResourceTable.for(type))
        return HMSQueryBuilder(table: table, scope: scope).search(request, after: nil, limit: 11)
    }

    @Test func theTenantPredicateComesFirstAndValuesAreBinds() throws {
        for value in Self.hostile {
            for (type, parameter) in [("Patient", "family"), ("Patient", "name:exact"), ("Patient", "identifier"), ("Observation", "code"),
                                      ("Encounter", "status"), ("Practitioner", "given:contains")] {
                // A value the parser refuses (a lone escape) never reaches the builder.
                guard let statement = try? Self.search(type, [(parameter, value)]) else { continue }
                #expect(statement.sql.hasPrefix("SELECT ") && statement.sql.contains(" WHERE t.tenant_id = ?"))
                #expect(statement.binds.first == .uuid(Self.tenantID), "the first bind is the tenant")
                #expect(Self.placeholders(statement) == statement.binds.count, "\(type)?\(parameter): one bind per placeholder")
                if value.count > 2 { #expect(!statement.sql.contains(value), "\(type)?\(parameter)=\(value) stays out of the SQL") }
            }
        }
    }

    @Test func compartmentsAndFiltersAreConditionsOfEveryStatement() throws {
        let patient = "0b3c1f8e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
        var restriction = AccessRestriction(patient: patient)
        let parser = SearchParser(defaultCount: 1, maximumCount: 1, strict: true, baseURL: "https://fhir.test/acme/r4")
        restriction.clauses["Observation"] = try parser.parse(resourceType: "Observation", parameters: [("category", "laboratory")]).clauses
        let confined = Self.scope.narrowed(to: restriction)
        let table = try #require(HMSResourceTable.for("Observation"))
        let builder = HMSQueryBuilder(table: table, scope: confined)
        let read = try #require(builder.read(id: patient))
        for statement in [read, try Self.search("Observation", [("code", "718-7")], scope: confined), builder.rows(where: HMSColumn("id", .uuid), in: [patient], limit: 5)] {
            #expect(statement.sql.contains("t.patient_id = ?") && statement.binds.contains(.uuid(patient)))
            #expect(statement.sql.contains("stored_resource_tokens") && statement.binds.contains(.text("laboratory")))
            #expect(Self.placeholders(statement) == statement.binds.count)
        }
        let elsewhere = HMSQueryBuilder(table: try #require(HMSResourceTable.for("Practitioner")), scope: confined)
        #expect(try #require(elsewhere.read(id: patient)).sql.contains("1 = 0"), "a compartment token reaches no Practitioner")
    }

    @Test func interpolationBindsAndRawIsExplicit() {
        let name = "O'Brien"
        let statement: SQLStatement = "SELECT id FROM patients t WHERE t.family_name = \(SQLBind.text(name)) AND t.\(unsafeRaw: "gender") = \(SQLBind.text("x")) LIMIT \(20)"
        #expect(statement.sql == "SELECT id FROM patients t WHERE t.family_name = ? AND t.gender = ? LIMIT 20")
        #expect(statement.binds == [.text(name), .text("x")])
        #expect(statement.postgresSQL() == "SELECT id FROM patients t WHERE t.family_name = $1::text AND t.gender = $2::text LIMIT 20")
        var combined = SQLStatement("SELECT 1 WHERE ?", [.bool(true)])
        combined.append(" AND \(statement)")
        #expect(Self.placeholders(combined) == combined.binds.count && combined.binds.count == 3)
    }
}
