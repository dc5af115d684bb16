import HMSMapping

/// The HMS tables the gateway reads: the contract an HMS meets (directly or with SQL views).
/// Rendered to SQLite or PostgreSQL DDL from one definition.
enum HMSSchema {
    struct Column {
        let name: String
        let kind: HMSColumnKind
        let nullable: Bool
        init(_ name: String, _ kind: HMSColumnKind, nullable: Bool = false) {
            self.name = name
            self.kind = kind
            self.nullable = nullable
        }
    }

    struct Index {
        let columns: [String]
        /// Columns searched with a case- and accent-folded prefix match.
        let folded: Bool
        init(_ columns: [String], folded: Bool = false) {
            self.columns = columns
            self.folded = folded
        }
    }

    struct Table {
        let name: String
        let columns: [Column]
        let indexes: [Index]
        /// Carries `tenant_id`, so it gets row-level security in PostgreSQL.
        var tenantScoped: Bool { name != "tenants" }
    }

    static let tables: [Table] = [
        Table(name: "tenants", columns: [
            Column("id", .uuid), Column("slug", .text), Column("name", .text), Column("updated_at", .timestamp),
        ], indexes: []),
        Table(name: "hospitals", columns: [
            Column("id", .uuid), Column("tenant_id", .uuid), Column("code", .text), Column("name", .text),
            Column("phone", .text, nullable: true), Column("email", .text, nullable: true), Column("address_line", .text, nullable: true),
            Column("city", .text, nullable: true), Column("state", .text, nullable: true), Column("postal_code", .text, nullable: true),
            Column("country", .text, nullable: true), Column("active", .bool), Column("updated_at", .timestamp),
        ], indexes: [Index(["tenant_id", "id"]), Index(["tenant_id", "code"]), Index(["tenant_id", "name"], folded: true)]),
        Table(name: "departments", columns: [
            Column("id", .uuid), Column("tenant_id", .uuid), Column("hospital_id", .uuid), Column("code", .text), Column("name", .text),
            Column("updated_at", .timestamp),
        ], indexes: [Index(["tenant_id", "id"])]),
        Table(name: "patients", columns: [
            Column("id", .uuid), Column("tenant_id", .uuid), Column("hospital_id", .uuid), Column("mrn", .text),
            Column("given_name", .text, nullable: true), Column("middle_name", .text, nullable: true), Column("family_name", .text),
            Column("gender", .text), Column("birth_date", .date, nullable: true), Column("phone", .text, nullable: true),
            Column("email", .text, nullable: true), Column("address_line", .text, nullable: true), Column("city", .text, nullable: true),
            Column("state", .text, nullable: true), Column("postal_code", .text, nullable: true), Column("country", .text, nullable: true),
            Column("deceased_at", .timestamp, nullable: true), Column("active", .bool), Column("updated_at", .timestamp),
        ], indexes: [
            Index(["tenant_id", "id"]), Index(["tenant_id", "mrn"]), Index(["tenant_id", "family_name"], folded: true),
            Index(["tenant_id", "given_name"], folded: true), Index(["tenant_id", "birth_date"]), Index(["tenant_id", "hospital_id"]),
            Index(["tenant_id", "updated_at"]), Index(["tenant_id", "family_name", "given_name", "id"]),
        ]),
        Table(name: "doctors", columns: [
            Column("id", .uuid), Column("tenant_id", .uuid), Column("hospital_id", .uuid), Column("department_id", .uuid, nullable: true),
            Column("given_name", .text, nullable: true), Column("family_name", .text), Column("gender", .text, nullable: true),
            Column("specialisation", .text, nullable: true), Column("registration_number", .text),
            Column("registration_council", .text, nullable: true), Column("phone", .text, nullable: true),
            Column("email", .text, nullable: true), Column("active", .bool), Column("updated_at", .timestamp),
        ], indexes: [Index(["tenant_id", "id"]), Index(["tenant_id", "registration_number"]), Index(["tenant_id", "family_name"], folded: true)]),
        Table(name: "appointments", columns: [
            Column("id", .uuid), Column("tenant_id", .uuid), Column("hospital_id", .uuid), Column("patient_id", .uuid),
            Column("doctor_id", .uuid), Column("department_id", .uuid, nullable: true), Column("appointment_number", .text),
            Column("start_at", .timestamp), Column("end_at", .timestamp, nullable: true), Column("status", .text),
            Column("reason", .text, nullable: true), Column("updated_at", .timestamp),
        ], indexes: [
            Index(["tenant_id", "id"]), Index(["tenant_id", "patient_id", "start_at"]), Index(["tenant_id", "doctor_id"]),
            Index(["tenant_id", "start_at"]), Index(["tenant_id", "appointment_number"]),
        ]),
        Table(name: "admissions", columns: [
            Column("id", .uuid), Column("tenant_id", .uuid), Column("hospital_id", .uuid), Column("patient_id", .uuid),
            Column("doctor_id", .uuid), Column("department_id", .uuid, nullable: true), Column("admission_number", .text),
            Column("ward", .text, nullable: true), Column("bed", .text, nullable: true), Column("admitted_at", .timestamp),
            Column("discharged_at", .timestamp, nullable: true), Column("status", .text),
            Column("discharge_disposition", .text, nullable: true), Column("reason", .text, nullable: true), Column("updated_at", .timestamp),
        ], indexes: [
            Index(["tenant_id", "id"]), Index(["tenant_id", "patient_id", "admitted_at"]), Index(["tenant_id", "doctor_id"]),
            Index(["tenant_id", "admitted_at"]), Index(["tenant_id", "admission_number"]),
        ]),
        Table(name: "prescriptions", columns: [
            Column("id", .uuid), Column("tenant_id", .uuid), Column("hospital_id", .uuid), Column("patient_id", .uuid),
            Column("doctor_id", .uuid), Column("appointment_id", .uuid, nullable: true), Column("admission_id", .uuid, nullable: true),
            Column("medicine_name", .text), Column("medicine_code", .text, nullable: true), Column("strength", .text, nullable: true),
            Column("dosage_instructions", .text, nullable: true), Column("frequency_per_day", .integer, nullable: true),
            Column("route", .text, nullable: true), Column("duration_days", .integer, nullable: true),
            Column("quantity", .integer, nullable: true), Column("refills", .integer, nullable: true), Column("status", .text),
            Column("prescribed_at", .timestamp), Column("updated_at", .timestamp),
        ], indexes: [
            Index(["tenant_id", "id"]), Index(["tenant_id", "patient_id", "prescribed_at"]), Index(["tenant_id", "appointment_id"]),
            Index(["tenant_id", "admission_id"]), Index(["tenant_id", "doctor_id"]), Index(["tenant_id", "prescribed_at"]),
        ]),
    ]

    static func table(_ name: String) -> Table? { tables.first { $0.name == name } }

    enum Dialect { case sqlite, postgres }

    static func typeName(_ kind: HMSColumnKind, _ dialect: Dialect) -> String {
        switch (kind, dialect) {
        case (.uuid, .postgres): "uuid"
        case (.date, .postgres): "date"
        case (.timestamp, .postgres): "timestamptz"
        case (.integer, .postgres): "integer"
        case (.bool, .postgres): "boolean"
        case (.decimal, .postgres): "numeric"
        case (.decimal, .sqlite): "REAL"
        case (.integer, .sqlite), (.bool, .sqlite): "INTEGER"
        default: "TEXT"
        }
    }

    static func createStatements(_ dialect: Dialect) -> [String] {
        var statements: [String] = []
        for table in tables {
            var lines = table.columns.map { column in
                "\(column.name) \(typeName(column.kind, dialect))\(column.nullable ? "" : " NOT NULL")"
            }
            lines.append("PRIMARY KEY (id)")
            statements.append("CREATE TABLE IF NOT EXISTS \(table.name) (\n  \(lines.joined(separator: ",\n  "))\n)")
            for index in table.indexes {
                let name = "\(table.name)_\(index.columns.joined(separator: "_"))\(index.folded ? "_folded" : "")_idx"
                let columns: String
                if index.folded && dialect == .postgres {
                    columns = index.columns.map { $0 == "tenant_id" ? $0 : "gw_fold(\($0)) text_pattern_ops" }.joined(separator: ", ")
                } else {
                    columns = index.columns.joined(separator: ", ")
                }
                statements.append("CREATE \(index.columns == ["tenant_id", "id"] ? "UNIQUE " : "")INDEX IF NOT EXISTS \(name) ON \(table.name) (\(columns))")
            }
        }
        statements.append("CREATE UNIQUE INDEX IF NOT EXISTS tenants_slug_idx ON tenants (slug)")
        statements.append(encounterView(dialect))
        return statements
    }

    /// Appointments and admissions as one encounter id space (`apt-<uuid>`, `adm-<uuid>`).
    /// `CASE` mapping an HMS status column to FHIR codes; anything else is `unknown`.
    static func statusCase(_ column: String, _ map: [String: String]) -> String {
        "CASE " + map.sorted { $0.key < $1.key }.map { "WHEN \(column) = '\($0.key)' THEN '\($0.value)'" }.joined(separator: " ") + " ELSE 'unknown' END"
    }

    static func encounterView(_ dialect: Dialect) -> String {
        let invoker = dialect == .postgres ? " WITH (security_invoker = true)" : ""
        let idText = dialect == .postgres ? "::text" : ""
        let nullText = dialect == .postgres ? "NULL::text" : "NULL"
        return """
        CREATE VIEW hms_encounters\(invoker) AS
        SELECT 'apt-' || a.id\(idText) AS fhir_id, 'apt' AS kind, a.id AS source_id, a.tenant_id, a.hospital_id, a.patient_id,
               a.doctor_id, d.name AS department_name, a.appointment_number AS encounter_number,
               \(statusCase("a.status", HMSStatusMaps.appointment)) AS status,
               a.start_at AS period_start, a.end_at AS period_end, a.reason, \(nullText) AS ward, \(nullText) AS bed,
               \(nullText) AS discharge_disposition, a.updated_at
          FROM appointments a LEFT JOIN departments d ON d.id = a.department_id AND d.tenant_id = a.tenant_id
        UNION ALL
        SELECT 'adm-' || m.id\(idText), 'adm', m.id, m.tenant_id, m.hospital_id, m.patient_id,
               m.doctor_id, d.name, m.admission_number,
               \(statusCase("m.status", HMSStatusMaps.admission)),
               m.admitted_at, m.discharged_at, m.reason, m.ward, m.bed,
               m.discharge_disposition, m.updated_at
          FROM admissions m LEFT JOIN departments d ON d.id = m.department_id AND d.tenant_id = m.tenant_id
        """
    }

    /// Row-level security on a tenant table, forced for the owner too, failing closed when
    /// `app.tenant_id` is missing or empty.
    static func tenantIsolation(_ table: String) -> [String] {
        [
            "ALTER TABLE \(table) ENABLE ROW LEVEL SECURITY",
            "ALTER TABLE \(table) FORCE ROW LEVEL SECURITY",
            "DROP POLICY IF EXISTS tenant_isolation ON \(table)",
            """
            CREATE POLICY tenant_isolation ON \(table)
              USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
              WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
            """,
        ]
    }

    /// PostgreSQL only: row-level security on every tenant table, grants to the gateway role.
    static func postgresSecurityStatements(gatewayRole: String) -> [String] {
        var statements: [String] = []
        for table in tables where table.tenantScoped { statements += tenantIsolation(table.name) }
        let role = "\"\(gatewayRole)\""
        statements.append("GRANT USAGE ON SCHEMA public TO \(role)")
        let readable = tables.map(\.name) + ["hms_encounters"]
        statements.append("GRANT SELECT ON \(readable.joined(separator: ", ")) TO \(role)")
        return statements
    }

    /// Name columns searched by prefix, each with a stored folded copy (schema version 6): a search
    /// compares `starts_with(<column>_folded, <folded prefix>)`, which PostgreSQL marks leakproof and
    /// so plans as an index range under row-level security (`gw_fold(...) LIKE` it cannot).
    static let foldedColumns: [String: [String]] = [
        "hospitals": ["name"],
        "patients": ["family_name", "given_name", "middle_name"],
        "doctors": ["family_name", "given_name"],
    ]

    static func foldedColumnName(_ column: String) -> String { column + "_folded" }

    /// Whether the contract makes `column` of `table` NOT NULL (a sort on it needs no COALESCE,
    /// and so can walk an index in order).
    static func isRequired(table: String, column: String) -> Bool {
        tables.first { $0.name == table }?.columns.first { $0.name == column }.map { !$0.nullable } ?? false
    }

    /// Indexes in the order of the name sorts (`_sort=family`, `Organization?_sort=name`), so a first
    /// page reads 20 index entries instead of sorting the tenant (schema version 7).
    static let sortIndexStatements = [
        "CREATE INDEX IF NOT EXISTS patients_tenant_id_family_name_id_idx ON patients (tenant_id, family_name, id)",
        "CREATE INDEX IF NOT EXISTS doctors_tenant_id_family_name_id_idx ON doctors (tenant_id, family_name, id)",
        "CREATE INDEX IF NOT EXISTS hospitals_tenant_id_name_id_idx ON hospitals (tenant_id, name, id)",
    ]

    static func hasFoldedColumn(table: String, column: String) -> Bool {
        foldedColumns[table]?.contains(column) ?? false
    }

    /// Adds the folded columns and their indexes, and drops the expression indexes they replace.
    /// SQLite can only add virtual generated columns; PostgreSQL stores them.
    static func foldedColumnStatements(_ dialect: Dialect) -> [String] {
        var statements: [String] = []
        for (table, columns) in foldedColumns.sorted(by: { $0.key < $1.key }) {
            for column in columns {
                let folded = foldedColumnName(column)
                switch dialect {
                case .postgres:
                    statements.append("ALTER TABLE \(table) ADD COLUMN IF NOT EXISTS \(folded) text GENERATED ALWAYS AS (gw_fold(\(column))) STORED")
                    statements.append("CREATE INDEX IF NOT EXISTS \(table)_tenant_id_\(folded)_prefix_idx ON \(table) (tenant_id, \(folded) text_pattern_ops)")
                case .sqlite:
                    statements.append("ALTER TABLE \(table) ADD COLUMN \(folded) TEXT GENERATED ALWAYS AS (gw_fold(\(column))) VIRTUAL")
                    statements.append("CREATE INDEX IF NOT EXISTS \(table)_tenant_id_\(folded)_prefix_idx ON \(table) (tenant_id, \(folded))")
                }
                statements.append("DROP INDEX IF EXISTS \(table)_tenant_id_\(column)_folded_idx")
            }
        }
        return statements
    }

    static let postgresPrelude = [
        "CREATE EXTENSION IF NOT EXISTS unaccent",
        """
        CREATE OR REPLACE FUNCTION gw_fold(text) RETURNS text
          LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
          AS $$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, $1)) $$
        """,
    ]
}
