import FHIRModels

/// Turns HMS rows into FHIR R4 resources, elements in specification order.
public enum HMSResourceMapper {
    /// `meta.versionId`: the row's `updated_at` in epoch seconds, so every change makes a new version.
    public static func versionID(updatedAt: Int64) -> String { String(updatedAt) }

    public static func resource(_ resourceType: String, row: HMSRow, context: MappingContext) -> JSON? {
        switch resourceType {
        case "Patient": patient(row, context)
        case "Practitioner": practitioner(row, context)
        case "Encounter": encounter(row, context)
        case "MedicationRequest": medicationRequest(row, context)
        case "Organization": organization(row, context)
        default: nil
        }
    }

    /// The FHIR id of a row of `resourceType`.
    public static func fhirID(_ resourceType: String, row: HMSRow) -> String? {
        resourceType == "Encounter" ? row.string("fhir_id") : row.string("id")
    }

    static func coding(_ system: String, _ code: String, _ display: String? = nil) -> JSON {
        var coding = JSONObject()
        coding.append("system", system)
        coding.append("code", code)
        coding.append("display", display)
        return .object(coding)
    }

    static func concept(_ codings: [JSON], text: String? = nil) -> JSON {
        var concept = JSONObject()
        if !codings.isEmpty { concept.append("coding", .array(codings)) }
        concept.append("text", text)
        return .object(concept)
    }

    static func reference(_ type: String, _ id: String?, display: String? = nil) -> JSON? {
        guard let id else { return nil }
        var reference = JSONObject()
        reference.append("reference", "\(type)/\(id)")
        reference.append("display", display)
        return .object(reference)
    }

    static func identifier(system: String, value: String?, type: (String, String)? = nil) -> JSON? {
        guard let value else { return nil }
        var identifier = JSONObject()
        identifier.append("use", "usual")
        if let type {
            identifier.append("type", concept([coding("http://terminology.hl7.org/CodeSystem/v2-0203", type.0, type.1)]))
        }
        identifier.append("system", system)
        identifier.append("value", value)
        return .object(identifier)
    }

    static func telecom(_ row: HMSRow, use: String) -> JSON? {
        var points: [JSON] = []
        if let phone = row.string("phone") {
            points.append(.object(["system": .string("phone"), "value": .string(phone), "use": .string(use)]))
        }
        if let email = row.string("email") {
            points.append(.object(["system": .string("email"), "value": .string(email), "use": .string(use)]))
        }
        return points.isEmpty ? nil : .array(points)
    }

    static func address(_ row: HMSRow, use: String) -> JSON? {
        var address = JSONObject()
        if let line = row.string("address_line") { address.append("line", .array([.string(line)])) }
        address.append("city", row.string("city"))
        address.append("state", row.string("state"))
        address.append("postalCode", row.string("postal_code"))
        address.append("country", row.string("country"))
        guard !address.isEmpty else { return nil }
        var withUse = JSONObject()
        withUse.append("use", use)
        for member in address.members { withUse.append(member.key, member.value) }
        return .array([.object(withUse)])
    }

    static func humanName(family: String?, given: [String?], prefix: String? = nil) -> JSON {
        var name = JSONObject()
        name.append("use", "official")
        name.append("family", family)
        let givenNames = given.compactMap { $0 }
        if !givenNames.isEmpty { name.append("given", .array(givenNames.map(JSON.string))) }
        if let prefix { name.append("prefix", .array([.string(prefix)])) }
        return .array([.object(name)])
    }
}
