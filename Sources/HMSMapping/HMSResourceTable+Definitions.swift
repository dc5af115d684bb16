extension HMSResourceTable {
    private static let id = HMSColumn("id", .uuid)
    private static let updatedAt = HMSColumn("updated_at", .timestamp)
    private static let hospitalID = HMSColumn("hospital_id", .uuid)
    private static let patientID = HMSColumn("patient_id", .uuid)
    private static let doctorID = HMSColumn("doctor_id", .uuid)

    static let patient = HMSResourceTable(
        resourceType: "Patient", table: "patients", idColumn: id, lastUpdatedColumn: updatedAt,
        columns: [id, hospitalID, HMSColumn("mrn", .text), HMSColumn("given_name", .text), HMSColumn("middle_name", .text),
                  HMSColumn("family_name", .text), HMSColumn("gender", .text), HMSColumn("birth_date", .date),
                  HMSColumn("phone", .text), HMSColumn("email", .text), HMSColumn("address_line", .text), HMSColumn("city", .text),
                  HMSColumn("state", .text), HMSColumn("postal_code", .text), HMSColumn("country", .text),
                  HMSColumn("deceased_at", .timestamp), HMSColumn("active", .bool), updatedAt],
        searchColumns: [
            "identifier": .token(HMSColumn("mrn", .text), system: .tenant(suffix: "mrn"), codes: nil),
            "name": .string([HMSColumn("family_name", .text), HMSColumn("given_name", .text), HMSColumn("middle_name", .text)]),
            "family": .string([HMSColumn("family_name", .text)]),
            "given": .string([HMSColumn("given_name", .text), HMSColumn("middle_name", .text)]),
            "birthdate": .date(start: HMSColumn("birth_date", .date), end: nil),
            "gender": .token(HMSColumn("gender", .text), system: .fixed("http://hl7.org/fhir/administrative-gender"), codes: nil),
            "organization": .reference(target: "Organization", hospitalID),
            "active": .booleanToken(HMSColumn("active", .bool)),
            "phone": .token(HMSColumn("phone", .text), system: nil, codes: nil),
            "email": .token(HMSColumn("email", .text), system: nil, codes: nil),
            "death-date": .date(start: HMSColumn("deceased_at", .timestamp), end: nil),
        ],
        sortColumns: [
            "family": [HMSColumn("family_name", .text)],
            "given": [HMSColumn("given_name", .text)],
            "name": [HMSColumn("family_name", .text), HMSColumn("given_name", .text)],
            "birthdate": [HMSColumn("birth_date", .date)],
        ])

    static let practitioner = HMSResourceTable(
        resourceType: "Practitioner", table: "doctors", idColumn: id, lastUpdatedColumn: updatedAt,
        columns: [id, hospitalID, HMSColumn("department_id", .uuid), HMSColumn("given_name", .text), HMSColumn("family_name", .text),
                  HMSColumn("gender", .text), HMSColumn("specialisation", .text), HMSColumn("registration_number", .text),
                  HMSColumn("registration_council", .text), HMSColumn("phone", .text), HMSColumn("email", .text),
                  HMSColumn("active", .bool), updatedAt],
        searchColumns: [
            "identifier": .token(HMSColumn("registration_number", .text), system: .tenant(suffix: "practitioner-registration"), codes: nil),
            "name": .string([HMSColumn("family_name", .text), HMSColumn("given_name", .text)]),
            "family": .string([HMSColumn("family_name", .text)]),
            "given": .string([HMSColumn("given_name", .text)]),
            "gender": .token(HMSColumn("gender", .text), system: .fixed("http://hl7.org/fhir/administrative-gender"), codes: nil),
            "active": .booleanToken(HMSColumn("active", .bool)),
        ],
        sortColumns: [
            "family": [HMSColumn("family_name", .text)],
            "given": [HMSColumn("given_name", .text)],
            "name": [HMSColumn("family_name", .text), HMSColumn("given_name", .text)],
        ])

    static let encounter = HMSResourceTable(
        resourceType: "Encounter", table: "hms_encounters", idColumn: HMSColumn("fhir_id", .text), lastUpdatedColumn: updatedAt,
        columns: [HMSColumn("fhir_id", .text), HMSColumn("kind", .text), hospitalID, patientID, doctorID,
                  HMSColumn("department_name", .text), HMSColumn("encounter_number", .text), HMSColumn("status", .text),
                  HMSColumn("period_start", .timestamp), HMSColumn("period_end", .timestamp), HMSColumn("reason", .text),
                  HMSColumn("ward", .text), HMSColumn("bed", .text), HMSColumn("discharge_disposition", .text), updatedAt],
        searchColumns: [
            "patient": .reference(target: "Patient", patientID),
            "subject": .reference(target: "Patient", patientID),
            "date": .date(start: HMSColumn("period_start", .timestamp), end: HMSColumn("period_end", .timestamp)),
            // The encounter view already holds FHIR status codes (mapped per kind, `unknown` otherwise).
            "status": .token(HMSColumn("status", .text), system: .fixed("http://hl7.org/fhir/encounter-status"), codes: nil),
            "class": .token(HMSColumn("kind", .text), system: .fixed("http://terminology.hl7.org/CodeSystem/v3-ActCode"),
                            codes: ["AMB": ["apt"], "IMP": ["adm"]]),
            "practitioner": .reference(target: "Practitioner", doctorID),
            "participant": .reference(target: "Practitioner", doctorID),
            "service-provider": .reference(target: "Organization", hospitalID),
            "identifier": .token(HMSColumn("encounter_number", .text), system: .tenant(suffix: "encounter-number"), codes: nil),
        ],
        sortColumns: ["date": [HMSColumn("period_start", .timestamp)]])

    static let medicationRequest = HMSResourceTable(
        resourceType: "MedicationRequest", table: "prescriptions", idColumn: id, lastUpdatedColumn: updatedAt,
        columns: [id, hospitalID, patientID, doctorID, HMSColumn("appointment_id", .uuid), HMSColumn("admission_id", .uuid),
                  HMSColumn("medicine_name", .text), HMSColumn("medicine_code", .text), HMSColumn("strength", .text),
                  HMSColumn("dosage_instructions", .text), HMSColumn("frequency_per_day", .integer), HMSColumn("route", .text),
                  HMSColumn("duration_days", .integer), HMSColumn("quantity", .integer), HMSColumn("refills", .integer),
                  HMSColumn("status", .text), HMSColumn("prescribed_at", .timestamp), updatedAt],
        searchColumns: [
            "patient": .reference(target: "Patient", patientID),
            "subject": .reference(target: "Patient", patientID),
            "intent": .constantToken(system: "http://hl7.org/fhir/CodeSystem/medicationrequest-intent", code: "order"),
            "status": .token(HMSColumn("status", .text), system: .fixed("http://hl7.org/fhir/CodeSystem/medicationrequest-status"),
                             codes: reverse(HMSStatusMaps.prescription)),
            "authoredon": .date(start: HMSColumn("prescribed_at", .timestamp), end: nil),
            "encounter": .encounterReference(appointment: HMSColumn("appointment_id", .uuid), admission: HMSColumn("admission_id", .uuid)),
            "requester": .reference(target: "Practitioner", doctorID),
            "code": .token(HMSColumn("medicine_code", .text), system: .fixed("http://www.nlm.nih.gov/research/umls/rxnorm"), codes: nil),
        ],
        sortColumns: ["authoredon": [HMSColumn("prescribed_at", .timestamp)]])

    static let organization = HMSResourceTable(
        resourceType: "Organization", table: "hospitals", idColumn: id, lastUpdatedColumn: updatedAt,
        columns: [id, HMSColumn("code", .text), HMSColumn("name", .text), HMSColumn("phone", .text), HMSColumn("email", .text),
                  HMSColumn("address_line", .text), HMSColumn("city", .text), HMSColumn("state", .text),
                  HMSColumn("postal_code", .text), HMSColumn("country", .text), HMSColumn("active", .bool), updatedAt],
        searchColumns: [
            "name": .string([HMSColumn("name", .text)]),
            "identifier": .token(HMSColumn("code", .text), system: .tenant(suffix: "hospital"), codes: nil),
            "active": .booleanToken(HMSColumn("active", .bool)),
            "address-city": .string([HMSColumn("city", .text)]),
            // US Core's SHALL search: any part of the address.
            "address": .string([HMSColumn("address_line", .text), HMSColumn("city", .text), HMSColumn("state", .text),
                                HMSColumn("postal_code", .text), HMSColumn("country", .text)]),
        ],
        sortColumns: ["name": [HMSColumn("name", .text)]])

    private static func reverse(_ maps: [String: String]...) -> [String: [String]] {
        var reversed: [String: [String]] = [:]
        for map in maps {
            for (hms, fhir) in map { reversed[fhir, default: []].append(hms) }
        }
        return reversed.mapValues { $0.sorted() }
    }
}
