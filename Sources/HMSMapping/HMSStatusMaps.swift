/// HMS status codes and their FHIR R4 codes, in both directions.
public enum HMSStatusMaps {
    /// `appointments.status` to `Encounter.status`.
    public static let appointment: [String: String] = [
        "scheduled": "planned", "checked_in": "arrived", "in_consultation": "in-progress",
        "completed": "finished", "cancelled": "cancelled", "no_show": "cancelled",
    ]
    /// `admissions.status` to `Encounter.status`.
    public static let admission: [String: String] = [
        "planned": "planned", "admitted": "in-progress", "on_leave": "onleave",
        "discharged": "finished", "cancelled": "cancelled",
    ]
    /// `prescriptions.status` to `MedicationRequest.status`.
    public static let prescription: [String: String] = [
        "draft": "draft", "active": "active", "on_hold": "on-hold", "completed": "completed",
        "cancelled": "cancelled", "stopped": "stopped", "entered_in_error": "entered-in-error",
    ]
    /// `admissions.discharge_disposition` to http://terminology.hl7.org/CodeSystem/discharge-disposition.
    public static let dischargeDisposition: [String: (code: String, display: String)] = [
        "home": ("home", "Home"), "transfer": ("other-hcf", "Other healthcare facility"),
        "rehab": ("rehab", "Rehabilitation"), "long_term_care": ("long", "Long-term care"),
        "against_advice": ("aadvice", "Left against advice"), "expired": ("exp", "Expired"),
        "hospice": ("hosp", "Hospice"), "other": ("oth", "Other"),
    ]
    /// `prescriptions.route` to SNOMED CT route of administration.
    public static let route: [String: (code: String, display: String)] = [
        "oral": ("26643006", "Oral route"), "intravenous": ("47625008", "Intravenous route"),
        "intramuscular": ("78421000", "Intramuscular route"), "subcutaneous": ("34206005", "Subcutaneous route"),
        "topical": ("6064005", "Topical route"), "inhalation": ("447694001", "Respiratory tract route"),
        "sublingual": ("37839007", "Sublingual route"), "rectal": ("37161004", "Rectal route"),
    ]

    /// The HMS codes that map to `fhirCode`, for turning a token search into a column match.
    public static func hmsCodes(for fhirCode: String, in map: [String: String]) -> [String] {
        map.filter { $0.value == fhirCode }.map(\.key).sorted()
    }
}
