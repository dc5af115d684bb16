extension HMSResourceTable {
    /// Columns of `stored_resources` every stored type selects.
    static let storedColumns = [
        HMSColumn("id", .uuid), HMSColumn("version_id", .integer), HMSColumn("last_updated", .timestamp), HMSColumn("body", .text),
        HMSColumn("patient_id", .uuid), HMSColumn("status", .text),
    ]

    static func stored(_ type: String, searchColumns: [String: SearchColumn], sortColumns: [String: [HMSColumn]]) -> HMSResourceTable {
        var table = HMSResourceTable(
            resourceType: type, table: "stored_resources", idColumn: HMSColumn("id", .uuid),
            lastUpdatedColumn: HMSColumn("last_updated", .timestamp), columns: storedColumns, searchColumns: searchColumns,
            sortColumns: sortColumns)
        table.storage = .stored
        table.fixedFilters = [FixedFilter(column: HMSColumn("resource_type", .text), value: type)]
        return table
    }

    private static let patientColumn = HMSColumn("patient_id", .uuid)

    /// Parameters Observation and DiagnosticReport share.
    private static let labSearchColumns: [String: SearchColumn] = [
        "patient": .reference(target: "Patient", patientColumn),
        "subject": .reference(target: "Patient", patientColumn),
        "category": .indexedToken(parameter: "category"),
        "code": .indexedToken(parameter: "code"),
        "identifier": .indexedToken(parameter: "identifier"),
        "date": .date(start: HMSColumn("effective_start", .timestamp), end: HMSColumn("effective_end", .timestamp)),
        "encounter": .indexedReference(parameter: "encounter", target: "Encounter"),
        "performer": .indexedReference(parameter: "performer", target: "Practitioner"),
    ]

    static let observation = stored("Observation", searchColumns: labSearchColumns.merging([
        "status": .token(HMSColumn("status", .text), system: .fixed("http://hl7.org/fhir/observation-status"), codes: nil),
        "value-quantity": .quantity(value: HMSColumn("value_quantity", .decimal), system: HMSColumn("value_system", .text),
                                    code: HMSColumn("value_code", .text)),
    ]) { $1 }, sortColumns: ["date": [HMSColumn("effective_start", .timestamp)]])

    static let diagnosticReport = stored("DiagnosticReport", searchColumns: labSearchColumns.merging([
        "status": .token(HMSColumn("status", .text), system: .fixed("http://hl7.org/fhir/diagnostic-report-status"), codes: nil),
        "result": .indexedReference(parameter: "result", target: "Observation"),
    ]) { $1 }, sortColumns: ["date": [HMSColumn("effective_start", .timestamp)]])
}
