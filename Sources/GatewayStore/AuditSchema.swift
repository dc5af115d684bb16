import HMSMapping

/// The per-tenant, append-only, hash-chained audit trail.
enum AuditSchema {
    static func statements(_ dialect: HMSSchema.Dialect) -> [String] {
        let uuid = HMSSchema.typeName(.uuid, dialect)
        let time = HMSSchema.typeName(.timestamp, dialect)
        let integer = dialect == .postgres ? "bigint" : "INTEGER"
        return [
            """
            CREATE TABLE IF NOT EXISTS audit_events (
              tenant_id \(uuid) NOT NULL,
              sequence \(integer) NOT NULL,
              id \(uuid) NOT NULL,
              recorded \(time) NOT NULL,
              action TEXT NOT NULL,
              subtype TEXT NOT NULL,
              outcome TEXT NOT NULL,
              agent TEXT,
              patients TEXT NOT NULL,
              body TEXT NOT NULL,
              previous_hash TEXT NOT NULL,
              hash TEXT NOT NULL,
              PRIMARY KEY (tenant_id, sequence)
            )
            """,
            "CREATE INDEX IF NOT EXISTS audit_events_recorded_idx ON audit_events (tenant_id, recorded)",
        ]
    }

    /// Which chain hash a record carries: 1 covers the body only (records written before version 4),
    /// 2 covers every column. Existing rows keep 1.
    static let hashSchemeStatements = ["ALTER TABLE audit_events ADD COLUMN hash_scheme INTEGER NOT NULL DEFAULT 1"]

    /// Records waiting to be chained (schema version 5). A request's record is inserted here, in the
    /// request's own statement or transaction, with no lock, and durable before the response; the
    /// sealer then chains a tenant's waiting records in arrival order into `audit_events`.
    static func pendingStatements(_ dialect: HMSSchema.Dialect) -> [String] {
        let uuid = HMSSchema.typeName(.uuid, dialect)
        let time = HMSSchema.typeName(.timestamp, dialect)
        let arrival = dialect == .postgres ? "arrival bigint GENERATED ALWAYS AS IDENTITY," : "arrival INTEGER PRIMARY KEY AUTOINCREMENT,"
        let key = dialect == .postgres ? ",\n  PRIMARY KEY (tenant_id, arrival)" : ""
        return [
            """
            CREATE TABLE IF NOT EXISTS audit_pending (
              \(arrival)
              tenant_id \(uuid) NOT NULL,
              id \(uuid) NOT NULL,
              recorded \(time) NOT NULL,
              action TEXT NOT NULL,
              subtype TEXT NOT NULL,
              outcome TEXT NOT NULL,
              agent TEXT,
              patients TEXT NOT NULL,
              body TEXT NOT NULL\(key)
            )
            """,
        ] + (dialect == .postgres ? [] : ["CREATE INDEX IF NOT EXISTS audit_pending_tenant_idx ON audit_pending (tenant_id, arrival)"])
    }

    /// The gateway role inserts and reads waiting records of its tenant; it can only take them out
    /// through `gw_audit_seal`, which moves them into the chain in the same statement, so no role
    /// below the schema owner can drop a record once written.
    static func postgresPendingSecurityStatements(gatewayRole: String) -> [String] {
        HMSSchema.tenantIsolation("audit_pending") + [
            "REVOKE ALL ON audit_pending FROM \"\(gatewayRole)\"",
            "GRANT SELECT, INSERT ON audit_pending TO \"\(gatewayRole)\"",
            """
            CREATE OR REPLACE FUNCTION gw_audit_seal(p_tenant uuid, p_seals jsonb) RETURNS integer
              LANGUAGE plpgsql SECURITY DEFINER SET search_path = public
              AS $$
              DECLARE
                moved integer;
              BEGIN
                IF p_tenant IS DISTINCT FROM NULLIF(current_setting('app.tenant_id', true), '')::uuid THEN
                  RAISE EXCEPTION 'gw_audit_seal: not the transaction''s tenant';
                END IF;
                INSERT INTO audit_events (tenant_id, sequence, id, recorded, action, subtype, outcome, agent, patients, body,
                                          previous_hash, hash, hash_scheme)
                  SELECT p.tenant_id, s.sequence, p.id, p.recorded, p.action, p.subtype, p.outcome, p.agent, p.patients, p.body,
                         s.previous, s.hash, 2
                    FROM jsonb_to_recordset(p_seals) AS s(arrival bigint, sequence bigint, previous text, hash text)
                    JOIN audit_pending p ON p.tenant_id = p_tenant AND p.arrival = s.arrival;
                GET DIAGNOSTICS moved = ROW_COUNT;
                IF moved <> jsonb_array_length(p_seals) THEN
                  RAISE EXCEPTION 'gw_audit_seal: waiting records are missing';
                END IF;
                DELETE FROM audit_pending p USING jsonb_to_recordset(p_seals) AS s(arrival bigint)
                 WHERE p.tenant_id = p_tenant AND p.arrival = s.arrival;
                RETURN moved;
              END
              $$
            """,
            "REVOKE ALL ON FUNCTION gw_audit_seal(uuid, jsonb) FROM PUBLIC",
            "GRANT EXECUTE ON FUNCTION gw_audit_seal(uuid, jsonb) TO \"\(gatewayRole)\"",
        ]
    }

    /// Waiting records of several tenants in one statement (schema version 8): each tenant's rows
    /// are inserted under that tenant's `app.tenant_id`, so row-level security checks every row;
    /// runs with the caller's rights.
    static let postgresEnqueueStatements = [
        """
        CREATE OR REPLACE FUNCTION gw_audit_enqueue(p_records jsonb) RETURNS integer
          LANGUAGE plpgsql SECURITY INVOKER SET search_path = public
          AS $$
          DECLARE
            tenant uuid;
            inserted integer;
            total integer := 0;
          BEGIN
            FOR tenant IN SELECT DISTINCT (r.value->>'tenant_id')::uuid FROM jsonb_array_elements(p_records) AS r LOOP
              PERFORM set_config('app.tenant_id', tenant::text, true);
              INSERT INTO audit_pending (tenant_id, id, recorded, action, subtype, outcome, agent, patients, body)
                SELECT r.tenant_id, r.id, r.recorded, r.action, r.subtype, r.outcome, r.agent, r.patients, r.body
                  FROM jsonb_array_elements(p_records) WITH ORDINALITY AS e(item, position),
                       jsonb_to_record(e.item) AS r(tenant_id uuid, id uuid, recorded timestamptz, action text, subtype text,
                                                    outcome text, agent text, patients text, body text)
                 WHERE r.tenant_id = tenant
                 ORDER BY e.position;
              GET DIAGNOSTICS inserted = ROW_COUNT;
              total := total + inserted;
            END LOOP;
            PERFORM set_config('app.tenant_id', '', true);
            RETURN total;
          END
          $$
        """,
    ]

    /// One INSERT for a batch of any number of tenants (schema version 11): the function lists the
    /// batch's tenants in `app.audit_tenants`, local to the statement's transaction, and an
    /// INSERT-only policy admits rows of those tenants. The loop of version 8 ran one INSERT per
    /// tenant, so a flush of 30 records of 30 tenants cost six times one of a single tenant (pgbench).
    /// Reading waiting records still needs the one tenant's `app.tenant_id`.
    static let postgresBatchEnqueueStatements = [
        "DROP POLICY IF EXISTS audit_enqueue ON audit_pending",
        """
        CREATE POLICY audit_enqueue ON audit_pending FOR INSERT
          WITH CHECK (tenant_id = ANY (string_to_array(NULLIF(current_setting('app.audit_tenants', true), ''), ',')::uuid[]))
        """,
        """
        CREATE OR REPLACE FUNCTION gw_audit_enqueue(p_records jsonb) RETURNS integer
          LANGUAGE plpgsql SECURITY INVOKER SET search_path = public
          AS $$
          DECLARE
            inserted integer;
          BEGIN
            PERFORM set_config('app.audit_tenants',
              (SELECT string_agg(DISTINCT (r.value->>'tenant_id')::uuid::text, ',') FROM jsonb_array_elements(p_records) AS r), true);
            INSERT INTO audit_pending (tenant_id, id, recorded, action, subtype, outcome, agent, patients, body)
              SELECT r.tenant_id, r.id, r.recorded, r.action, r.subtype, r.outcome, r.agent, r.patients, r.body
                FROM jsonb_array_elements(p_records) WITH ORDINALITY AS e(item, position),
                     jsonb_to_record(e.item) AS r(tenant_id uuid, id uuid, recorded timestamptz, action text, subtype text,
                                                  outcome text, agent text, patients text, body text)
               ORDER BY e.position;
            GET DIAGNOSTICS inserted = ROW_COUNT;
            PERFORM set_config('app.audit_tenants', '', true);
            RETURN inserted;
          END
          $$
        """,
    ]

    /// The gateway role may insert and read audit rows of its tenant, never update, delete or truncate them.
    static func postgresSecurityStatements(gatewayRole: String) -> [String] {
        HMSSchema.tenantIsolation("audit_events") + [
            "REVOKE ALL ON audit_events FROM \"\(gatewayRole)\"",
            "GRANT SELECT, INSERT ON audit_events TO \"\(gatewayRole)\"",
        ]
    }

    /// SQLite has no roles: triggers refuse updates and deletes of audit rows.
    static let sqliteTriggers = [
        "CREATE TRIGGER IF NOT EXISTS audit_events_no_update BEFORE UPDATE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
        sqliteNoDeleteTrigger,
    ]
    static let sqliteNoDeleteTrigger =
        "CREATE TRIGGER IF NOT EXISTS audit_events_no_delete BEFORE DELETE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END"
}
