import FHIRSearch
import GatewayAuth
import HMSMapping

/// Which patients an export reaches (Patient- and Group-level exports); nil: the whole tenant.
public enum ExportPatients: Sendable, Equatable {
    /// The patients named by the kick-off's `patient` parameter (normalised UUIDs).
    case ids([String])
    /// The patients registered at one hospital (a Group).
    case hospital(String)
    /// Those of the named patients (normalised UUIDs) who are registered at the hospital (a Group with `patient`).
    case hospitalPatients(String, [String])
}

/// One pass of an export over one table, in key order.
public struct ExportPass: Sendable, Equatable {
    public let resourceType: String
    /// The column pages are keyed on (unique within the pass).
    public let key: HMSColumn
    /// The Encounter source (`apt`, `adm`) this pass reads; nil for other types.
    public let encounterKind: String?

    /// The passes exporting `resourceType`: Encounter reads its two source tables one after the
    /// other, so each pass walks an index instead of sorting a union.
    public static func passes(_ resourceType: String) -> [ExportPass] {
        guard let table = HMSResourceTable.for(resourceType) else { return [] }
        if resourceType == "Encounter" {
            return ["apt", "adm"].map { ExportPass(resourceType: resourceType, key: HMSColumn("source_id", .uuid), encounterKind: $0) }
        }
        return [ExportPass(resourceType: resourceType, key: table.idColumn, encounterKind: nil)]
    }
}

extension HMSQueryBuilder {
    /// A page of an export pass: rows matching any of `filters` (`_typeFilter`, OR-combined; none
    /// means all), last updated in `[since, before)`, of `patients`, after `afterKey`.
    func exportPage(_ pass: ExportPass, filters: [SearchRequest], since: Int64?, before: Int64, patients: ExportPatients?,
                    afterKey: String?, limit: Int?) -> SQLStatement {
        let keySelected = table.columns.contains(pass.key) ? "" : ", t.\(pass.key.name)"
        var statement = base(select: selectList + keySelected)
        if let kind = pass.encounterKind { statement.append(" AND t.kind = ?", .text(kind)) }
        let updated = "t.\(table.lastUpdatedColumn.name)"
        if let since { statement.append(" AND "); statement.append(Self.comparison(updated, .atLeast, since, table.lastUpdatedColumn.kind, roundUp: false)) }
        statement.append(" AND ")
        statement.append(Self.comparison(updated, .below, before, table.lastUpdatedColumn.kind, roundUp: false))
        if let patients { statement.append(patientCondition(patients)) }
        if !filters.isEmpty {
            statement.append(" AND (")
            for (index, filter) in filters.enumerated() {
                statement.append(index == 0 ? "(1 = 1" : " OR (1 = 1")
                statement.append(conditions(filter))
                statement.append(")")
            }
            statement.append(")")
        }
        if let afterKey { statement.append(" AND t.\(unsafeRaw: pass.key.name) > ?", .of(pass.key.kind, afterKey)) }
        statement.append(" ORDER BY t.\(unsafeRaw: pass.key.name)")
        if let limit { statement.append(" LIMIT \(max(1, limit))") }
        return statement
    }

    private func patientCondition(_ patients: ExportPatients) -> SQLStatement {
        let column = table.resourceType == "Patient" ? table.idColumn.name : "patient_id"
        guard AccessRestriction.compartmentTypes.contains(table.resourceType) else { return SQLStatement(" AND 1 = 0") }
        switch patients {
        case .ids(let ids):
            guard !ids.isEmpty else { return SQLStatement(" AND 1 = 0") }
            var statement = SQLStatement(" AND t.\(unsafeRaw: column) IN (")
            for (index, id) in ids.enumerated() { statement.append(index == 0 ? "?" : ", ?", .uuid(id)) }
            statement.append(")")
            return statement
        case .hospital(let hospital):
            if table.resourceType == "Patient" { return SQLStatement(" AND t.hospital_id = ?", [.uuid(hospital)]) }
            return SQLStatement(" AND t.patient_id IN (SELECT p.id FROM patients p WHERE p.tenant_id = ? AND p.hospital_id = ?)",
                                [.uuid(scope.tenantID), .uuid(hospital)])
        case .hospitalPatients(let hospital, let ids):
            var statement = patientCondition(.ids(ids))
            statement.append(patientCondition(.hospital(hospital)))
            return statement
        }
    }
}
