import FHIRModels
import FHIRValidation
import GatewayConfig

/// Validation of posted resources: R4 structure (400), then the tenant's profile (422).
enum ResourceValidation {
    /// The project's profiles for writable types, read from the embedded copies of profiles/.
    static let profiles: [String: ProfileValidator] = {
        var byType: [String: ProfileValidator] = [:]
        for (_, text) in EmbeddedResources.profiles {
            guard let definition = try? JSONParser.parse(text), let validator = try? ProfileValidator(structureDefinition: definition),
                  TenantConfiguration.writableResourceTypes.contains(validator.type) else { continue }
            byType[validator.type] = validator
        }
        return byType
    }()

    static func structuralIssues(_ resource: JSON, type: String) -> [OutcomeIssue] {
        StructuralValidator.validate(resource, expectedType: type)
    }

    static func profileIssues(_ resource: JSON, type: String, profileSet: TenantConfiguration.ProfileSet) -> [OutcomeIssue] {
        guard profileSet == .usCore else { return [] }
        return profiles[type]?.validate(resource) ?? []
    }
}
