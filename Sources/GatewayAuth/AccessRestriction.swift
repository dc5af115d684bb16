import FHIRSearch

/// Limits a request's data beyond the tenant: the SMART patient compartment of a patient-context
/// token, and the search clauses of v2 granular scopes (`patient/Observation.rs?category=...`).
public struct AccessRestriction: Sendable {
    /// Only this patient's compartment is visible (the Patient itself and resources whose subject it is).
    public var patient: String?
    /// Clauses every result of a type must satisfy (AND), by resource type.
    public var clauses: [String: [SearchClause]]
    /// Only records of these hospitals (HMS hospital ids, lowercase) are visible: the token's
    /// hospital claim. Nil: the whole tenant.
    public var hospitals: Set<String>?

    public init(patient: String? = nil, clauses: [String: [SearchClause]] = [:], hospitals: Set<String>? = nil) {
        self.patient = patient
        self.clauses = clauses
        self.hospitals = hospitals
    }

    /// True when nothing narrows the tenant for `resourceType`.
    public func isNone(for resourceType: String) -> Bool {
        patient == nil && (clauses[resourceType] ?? []).isEmpty && hospitals == nil
    }

    /// Types in the patient compartment this gateway serves, and the column naming the patient.
    public static let compartmentTypes: Set<String> = ["Patient", "Encounter", "MedicationRequest", "Observation", "DiagnosticReport"]
}
