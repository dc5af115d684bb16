import FHIRModels

extension HMSResourceMapper {
    static func patient(_ row: HMSRow, _ context: MappingContext) -> JSON? {
        guard let id = row.string("id") else { return nil }
        var resource = JSONObject()
        resource.append("resourceType", "Patient")
        resource.append("id", id)
        resource.append("meta", context.meta(row, resourceType: "Patient"))
        if let mrn = identifier(system: context.system("mrn"), value: row.string("mrn"), type: ("MR", "Medical Record Number")) {
            resource.append("identifier", .array([mrn]))
        }
        resource.append("active", row.bool("active").map(JSON.bool))
        resource.append("name", humanName(family: row.string("family_name"), given: [row.string("given_name"), row.string("middle_name")]))
        resource.append("telecom", telecom(row, use: "home"))
        resource.append("gender", row.string("gender") ?? "unknown")
        resource.append("birthDate", row.string("birth_date"))
        if let deceased = row.integer("deceased_at") {
            resource.append("deceasedDateTime", CivilTime.isoInstant(epochSeconds: deceased))
        }
        resource.append("address", address(row, use: "home"))
        resource.append("managingOrganization", reference("Organization", row.string("hospital_id")))
        return .object(resource)
    }

    static func practitioner(_ row: HMSRow, _ context: MappingContext) -> JSON? {
        guard let id = row.string("id") else { return nil }
        var resource = JSONObject()
        resource.append("resourceType", "Practitioner")
        resource.append("id", id)
        resource.append("meta", context.meta(row, resourceType: "Practitioner"))
        if var registration = identifier(system: context.system("practitioner-registration"), value: row.string("registration_number"),
                                         type: ("PRN", "Provider number"))?.objectValue {
            if let council = row.string("registration_council") { registration.append("assigner", .object(["display": .string(council)])) }
            resource.append("identifier", .array([.object(registration)]))
        }
        resource.append("active", row.bool("active").map(JSON.bool))
        resource.append("name", humanName(family: row.string("family_name"), given: [row.string("given_name")], prefix: "Dr"))
        resource.append("telecom", telecom(row, use: "work"))
        resource.append("gender", row.string("gender"))
        if let specialisation = row.string("specialisation") {
            var qualification = JSONObject()
            qualification.append("code", concept([], text: specialisation))
            if let council = row.string("registration_council") { qualification.append("issuer", .object(["display": .string(council)])) }
            resource.append("qualification", .array([.object(qualification)]))
        }
        return .object(resource)
    }

    static func encounter(_ row: HMSRow, _ context: MappingContext) -> JSON? {
        guard let id = row.string("fhir_id"), let kind = row.string("kind") else { return nil }
        let inpatient = kind == "adm"
        var resource = JSONObject()
        resource.append("resourceType", "Encounter")
        resource.append("id", id)
        resource.append("meta", context.meta(row, resourceType: "Encounter"))
        if let number = identifier(system: context.system("encounter-number"), value: row.string("encounter_number")) {
            resource.append("identifier", .array([number]))
        }
        resource.append("status", row.string("status") ?? "unknown")
        resource.append("class", inpatient
            ? coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "IMP", "inpatient encounter")
            : coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB", "ambulatory"))
        let type = inpatient
            ? coding("http://snomed.info/sct", "32485007", "Hospital admission (procedure)")
            : coding("http://snomed.info/sct", "11429006", "Consultation (procedure)")
        resource.append("type", .array([concept([type], text: row.string("department_name").map { "\(inpatient ? "Admission" : "Consultation"), \($0)" })]))
        resource.append("subject", reference("Patient", row.string("patient_id")))
        if let doctor = reference("Practitioner", row.string("doctor_id")) {
            let participantType = inpatient
                ? coding("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "ATND", "attender")
                : coding("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "PPRF", "primary performer")
            resource.append("participant", .array([.object(["type": .array([concept([participantType])]), "individual": doctor])]))
        }
        var period = JSONObject()
        period.append("start", row.integer("period_start").map { CivilTime.isoInstant(epochSeconds: $0) })
        period.append("end", row.integer("period_end").map { CivilTime.isoInstant(epochSeconds: $0) })
        if !period.isEmpty { resource.append("period", .object(period)) }
        if let reason = row.string("reason") { resource.append("reasonCode", .array([concept([], text: reason)])) }
        if inpatient {
            var hospitalization = JSONObject()
            if let disposition = row.string("discharge_disposition").flatMap({ HMSStatusMaps.dischargeDisposition[$0] }) {
                hospitalization.append("dischargeDisposition", concept([coding("http://terminology.hl7.org/CodeSystem/discharge-disposition",
                                                                               disposition.code, disposition.display)]))
            }
            if !hospitalization.isEmpty { resource.append("hospitalization", .object(hospitalization)) }
            let place = [row.string("ward").map { "Ward \($0)" }, row.string("bed").map { "bed \($0)" }].compactMap { $0 }
            if !place.isEmpty {
                resource.append("location", .array([.object(["location": .object(["display": .string(place.joined(separator: ", "))])])]))
            }
        }
        resource.append("serviceProvider", reference("Organization", row.string("hospital_id")))
        return .object(resource)
    }

    static func medicationRequest(_ row: HMSRow, _ context: MappingContext) -> JSON? {
        guard let id = row.string("id") else { return nil }
        // An appointment takes precedence; category and encounter always describe the same visit.
        let appointment = row.string("appointment_id")
        let admission = appointment == nil ? row.string("admission_id") : nil
        var resource = JSONObject()
        resource.append("resourceType", "MedicationRequest")
        resource.append("id", id)
        resource.append("meta", context.meta(row, resourceType: "MedicationRequest"))
        resource.append("status", HMSStatusMaps.prescription[row.string("status") ?? ""] ?? "unknown")
        resource.append("intent", "order")
        let category = admission != nil
            ? coding("http://terminology.hl7.org/CodeSystem/medicationrequest-category", "inpatient", "Inpatient")
            : coding("http://terminology.hl7.org/CodeSystem/medicationrequest-category", "outpatient", "Outpatient")
        resource.append("category", .array([concept([category])]))
        resource.append("reportedBoolean", .bool(false))
        let medicineText = [row.string("medicine_name"), row.string("strength")].compactMap { $0 }.joined(separator: " ")
        var codings: [JSON] = []
        if let code = row.string("medicine_code") {
            codings.append(coding("http://www.nlm.nih.gov/research/umls/rxnorm", code, row.string("medicine_name")))
        }
        resource.append("medicationCodeableConcept", concept(codings, text: medicineText.isEmpty ? nil : medicineText))
        resource.append("subject", reference("Patient", row.string("patient_id")))
        if let appointment {
            resource.append("encounter", reference("Encounter", EncounterID.make(kind: "apt", uuid: appointment)))
        } else if let admission {
            resource.append("encounter", reference("Encounter", EncounterID.make(kind: "adm", uuid: admission)))
        }
        resource.append("authoredOn", row.integer("prescribed_at").map { JSON.string(CivilTime.isoInstant(epochSeconds: $0)) })
        resource.append("requester", reference("Practitioner", row.string("doctor_id")))
        var dosage = JSONObject()
        dosage.append("text", row.string("dosage_instructions"))
        if let perDay = row.integer("frequency_per_day"), perDay > 0 {
            var repeatRule = JSONObject()
            repeatRule.append("frequency", .int(Int(perDay)))
            repeatRule.append("period", .int(1))
            repeatRule.append("periodUnit", "d")
            if let days = row.integer("duration_days"), days > 0 {
                var bounds = JSONObject()
                bounds.append("value", .int(Int(days)))
                bounds.append("unit", "days")
                bounds.append("system", "http://unitsofmeasure.org")
                bounds.append("code", "d")
                var ordered = JSONObject()
                ordered.append("boundsDuration", .object(bounds))
                for member in repeatRule.members { ordered.append(member.key, member.value) }
                repeatRule = ordered
            }
            dosage.append("timing", .object(["repeat": .object(repeatRule)]))
        }
        if let route = row.string("route").flatMap({ HMSStatusMaps.route[$0] }) {
            dosage.append("route", concept([coding("http://snomed.info/sct", route.code, route.display)]))
        }
        if !dosage.isEmpty { resource.append("dosageInstruction", .array([.object(dosage)])) }
        var dispense = JSONObject()
        dispense.append("numberOfRepeatsAllowed", row.integer("refills").map { JSON.int(Int($0)) })
        if let quantity = row.integer("quantity") {
            dispense.append("quantity", .object(["value": .int(Int(quantity))]))
        }
        if let days = row.integer("duration_days"), days > 0 {
            var duration = JSONObject()
            duration.append("value", .int(Int(days)))
            duration.append("unit", "days")
            duration.append("system", "http://unitsofmeasure.org")
            duration.append("code", "d")
            dispense.append("expectedSupplyDuration", .object(duration))
        }
        if !dispense.isEmpty { resource.append("dispenseRequest", .object(dispense)) }
        return .object(resource)
    }

    static func organization(_ row: HMSRow, _ context: MappingContext) -> JSON? {
        guard let id = row.string("id") else { return nil }
        var resource = JSONObject()
        resource.append("resourceType", "Organization")
        resource.append("id", id)
        resource.append("meta", context.meta(row, resourceType: "Organization"))
        if let code = identifier(system: context.system("hospital"), value: row.string("code")) {
            resource.append("identifier", .array([code]))
        }
        resource.append("active", .bool(row.bool("active") ?? true))
        resource.append("type", .array([concept([coding("http://terminology.hl7.org/CodeSystem/organization-type", "prov", "Healthcare Provider")])]))
        resource.append("name", row.string("name"))
        resource.append("telecom", telecom(row, use: "work"))
        resource.append("address", address(row, use: "work"))
        return .object(resource)
    }
}
