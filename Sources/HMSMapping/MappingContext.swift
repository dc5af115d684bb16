import FHIRModels
import GatewayConfig

/// What a mapper needs to know about the tenant: its slug (identifier systems) and profile set.
public struct MappingContext: Sendable {
    public let slug: String
    public let profileSet: TenantConfiguration.ProfileSet

    public init(slug: String, profileSet: TenantConfiguration.ProfileSet) {
        self.slug = slug
        self.profileSet = profileSet
    }

    public func system(_ suffix: String) -> String { "urn:hms:\(slug):\(suffix)" }

    /// `meta` with `versionId` and `lastUpdated` from `updated_at`, and the declared profile.
    func meta(_ row: HMSRow, resourceType: String) -> JSON {
        let updated = row.integer("updated_at") ?? 0
        var meta = JSONObject()
        meta.append("versionId", HMSResourceMapper.versionID(updatedAt: updated))
        meta.append("lastUpdated", CivilTime.isoInstant(epochSeconds: updated))
        if let profile = ProfileSets.profile(for: resourceType, in: profileSet) {
            meta.append("profile", .array([.string(profile)]))
        }
        return .object(meta)
    }
}

/// The canonical profile URLs each profile set declares.
public enum ProfileSets {
    public static let usCore: [String: String] = [
        "Patient": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient",
        "Practitioner": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-practitioner",
        "Encounter": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-encounter",
        "MedicationRequest": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-medicationrequest",
        "Organization": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-organization",
        "Observation": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-observation-lab",
        "DiagnosticReport": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-diagnosticreport-lab",
    ]

    public static func profile(for resourceType: String, in set: TenantConfiguration.ProfileSet) -> String? {
        switch set {
        case .base: nil
        case .usCore: usCore[resourceType]
        }
    }
}
