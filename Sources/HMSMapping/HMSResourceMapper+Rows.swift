import FHIRModels

/// What the gateway needs from a row besides the resource itself, so that no layer above the
/// mapping reads column names.
extension HMSResourceMapper {
    /// `meta.versionId` and `meta.lastUpdated` (epoch seconds) of a row of `resourceType`.
    public static func version(_ resourceType: String, row: HMSRow) -> (id: String, lastUpdated: Int64) {
        if resourceType == "AuditEvent" { return ("1", row.integer("recorded") ?? 0) }
        if HMSResourceTable.for(resourceType)?.storage == .stored {
            return (String(row.integer("version_id") ?? 1), row.integer("last_updated") ?? 0)
        }
        let updated = row.integer("updated_at") ?? 0
        return (versionID(updatedAt: updated), updated)
    }

    /// The version number of a stored resource's row.
    public static func storedVersion(_ row: HMSRow) -> Int? { row.integer("version_id").flatMap { Int(exactly: $0) } }

    /// The JSON a partner posted, as stored.
    public static func storedBody(_ row: HMSRow) -> String? { row.string("body") }

    /// Ids a row refers to through an include parameter whose target lives in a column of the row;
    /// nil when the reference is only in the resource (then read it there).
    public static func includedIDs(source: String, parameter: String, row: HMSRow) -> [String]? {
        switch (source, parameter) {
        case ("Observation", "patient"), ("DiagnosticReport", "patient"), ("MedicationRequest", "patient"), ("Encounter", "patient"):
            return [row.string("patient_id")].compactMap { $0 }
        case ("MedicationRequest", "requester"), ("Encounter", "participant"): return [row.string("doctor_id")].compactMap { $0 }
        case ("Encounter", "service-provider"), ("Patient", "organization"): return [row.string("hospital_id")].compactMap { $0 }
        case ("MedicationRequest", "encounter"):
            if let appointment = row.string("appointment_id") { return [EncounterID.make(kind: "apt", uuid: appointment)] }
            if let admission = row.string("admission_id") { return [EncounterID.make(kind: "adm", uuid: admission)] }
            return []
        default: return nil
        }
    }
}
