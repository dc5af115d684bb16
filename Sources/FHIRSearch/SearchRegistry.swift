/// The search parameters, includes and sorts the gateway really supports, per resource type.
/// The CapabilityStatement is rendered from this table, so it can only declare what is implemented.
public enum SearchRegistry {
    public static let lastUpdated = SearchParameterDefinition("_lastUpdated", .date, sortable: true)
    public static let id = SearchParameterDefinition("_id", .token, sortable: true)

    public static let parameters: [String: [SearchParameterDefinition]] = [
        "Patient": [
            id, lastUpdated,
            .init("identifier", .token), .init("name", .string, sortable: true), .init("family", .string, sortable: true),
            .init("given", .string, sortable: true), .init("birthdate", .date, sortable: true), .init("gender", .token),
            .init("organization", .reference, targets: ["Organization"]), .init("active", .token), .init("phone", .token),
            .init("email", .token), .init("death-date", .date),
        ],
        "Practitioner": [
            id, lastUpdated,
            .init("identifier", .token), .init("name", .string, sortable: true), .init("family", .string, sortable: true),
            .init("given", .string, sortable: true), .init("gender", .token), .init("active", .token),
        ],
        "Encounter": [
            id, lastUpdated,
            .init("patient", .reference, targets: ["Patient"]), .init("subject", .reference, targets: ["Patient"]),
            .init("date", .date, sortable: true), .init("status", .token), .init("class", .token),
            .init("practitioner", .reference, targets: ["Practitioner"]), .init("participant", .reference, targets: ["Practitioner"]),
            .init("service-provider", .reference, targets: ["Organization"]), .init("identifier", .token),
        ],
        "MedicationRequest": [
            id, lastUpdated,
            .init("patient", .reference, targets: ["Patient"]), .init("subject", .reference, targets: ["Patient"]),
            .init("intent", .token), .init("status", .token), .init("authoredon", .date, sortable: true),
            .init("encounter", .reference, targets: ["Encounter"]), .init("requester", .reference, targets: ["Practitioner"]),
            .init("code", .token),
        ],
        "Organization": [
            id, lastUpdated,
            .init("name", .string, sortable: true), .init("identifier", .token), .init("active", .token), .init("address-city", .string), .init("address", .string),
        ],
        "Observation": [
            id, lastUpdated,
            .init("patient", .reference, targets: ["Patient"]), .init("subject", .reference, targets: ["Patient"]),
            .init("category", .token), .init("code", .token), .init("date", .date, sortable: true), .init("status", .token),
            .init("value-quantity", .quantity), .init("identifier", .token), .init("encounter", .reference, targets: ["Encounter"]),
            .init("performer", .reference, targets: ["Practitioner"]),
        ],
        "DiagnosticReport": [
            id, lastUpdated,
            .init("patient", .reference, targets: ["Patient"]), .init("subject", .reference, targets: ["Patient"]),
            .init("category", .token), .init("code", .token), .init("date", .date, sortable: true), .init("status", .token),
            .init("result", .reference, targets: ["Observation"]), .init("identifier", .token),
            .init("encounter", .reference, targets: ["Encounter"]), .init("performer", .reference, targets: ["Practitioner"]),
        ],
        "AuditEvent": [
            id, .init("date", .date, sortable: true), .init("patient", .reference, targets: ["Patient"]), .init("agent", .token),
            .init("action", .token), .init("outcome", .token), .init("type", .token), .init("subtype", .token),
        ],
    ]

    public static let includes: [String: [IncludeDefinition]] = [
        "MedicationRequest": [
            .init("MedicationRequest", "requester", "Practitioner"), .init("MedicationRequest", "patient", "Patient"),
            .init("MedicationRequest", "encounter", "Encounter"),
        ],
        "Encounter": [
            .init("Encounter", "participant", "Practitioner"), .init("Encounter", "patient", "Patient"),
            .init("Encounter", "service-provider", "Organization"),
        ],
        "Patient": [.init("Patient", "organization", "Organization")],
        "Observation": [.init("Observation", "patient", "Patient"), .init("Observation", "encounter", "Encounter")],
        "DiagnosticReport": [
            .init("DiagnosticReport", "result", "Observation"), .init("DiagnosticReport", "patient", "Patient"),
            .init("DiagnosticReport", "encounter", "Encounter"),
        ],
    ]

    /// `_revinclude` values allowed when searching the key type.
    public static let revincludes: [String: [IncludeDefinition]] = [
        "Patient": [
            .init("Encounter", "patient", "Patient"), .init("MedicationRequest", "patient", "Patient"),
            .init("Observation", "patient", "Patient"), .init("DiagnosticReport", "patient", "Patient"),
        ],
        "Observation": [.init("DiagnosticReport", "result", "Observation")],
    ]

    public static func parameter(_ name: String, for resourceType: String) -> SearchParameterDefinition? {
        parameters[resourceType]?.first { $0.name == name }
    }

    public static func definition(for resourceType: String) -> [SearchParameterDefinition] {
        parameters[resourceType] ?? []
    }
}
