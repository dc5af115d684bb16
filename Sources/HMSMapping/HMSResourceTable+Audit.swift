extension HMSResourceTable {
    /// The tenant's audit trail, searchable as AuditEvent by holders of an audit scope.
    static let auditEvent: HMSResourceTable = {
        var table = HMSResourceTable(
            resourceType: "AuditEvent", table: "audit_events", idColumn: HMSColumn("id", .uuid),
            lastUpdatedColumn: HMSColumn("recorded", .timestamp),
            columns: [HMSColumn("id", .uuid), HMSColumn("recorded", .timestamp), HMSColumn("body", .text)],
            searchColumns: [
                "date": .date(start: HMSColumn("recorded", .timestamp), end: nil),
                "action": .token(HMSColumn("action", .text), system: .fixed("http://hl7.org/fhir/audit-event-action"), codes: nil),
                "outcome": .token(HMSColumn("outcome", .text), system: .fixed("http://hl7.org/fhir/audit-event-outcome"), codes: nil),
                "subtype": .token(HMSColumn("subtype", .text), system: .fixed("http://hl7.org/fhir/restful-interaction"), codes: nil),
                "type": .constantToken(system: "http://terminology.hl7.org/CodeSystem/audit-event-type", code: "rest"),
                "agent": .token(HMSColumn("agent", .text), system: nil, codes: nil),
                "patient": .listedReference(target: "Patient", HMSColumn("patients", .text)),
            ],
            sortColumns: ["date": [HMSColumn("recorded", .timestamp)]])
        table.storage = .stored
        return table
    }()
}
