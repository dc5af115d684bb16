import FHIRModels
import FHIRValidation
import GatewayConfig

/// Validation of posted resources: R4 structure (400), then the tenant's profile (422).
enum ResourceValidation {
    /// The project's profiles for writable types, read from the embedded copies of profiles/, or
    /// the name of the first one that does not load (the gateway then refuses to start).
    static let loaded: Result<[String: ProfileValidator], GatewayApplication.StartupError> = {
        var byType: [String: ProfileValidator] = [:]
        for (name, text) in EmbeddedResources.profiles {
            guard let definition = try? JSONParser.parse(text), let validator = try? ProfileValidator(structureDefinition: definition) else {
                return .failure(GatewayApplication.StartupError(description: "the profile '\(name)' does not parse; validation cannot run without it"))
            }
            if TenantConfiguration.writableResourceTypes.contains(validator.type) { byType[validator.type] = validator }
        }
        for type in TenantConfiguration.writableResourceTypes where byType[type] == nil {
            return .failure(GatewayApplication.StartupError(description: "no profile for the writable type \(type)"))
        }
        return .success(byType)
    }()

    static var profiles: [String: ProfileValidator] { (try? loaded.get()) ?? [:] }

    static func structuralIssues(_ resource: JSON, type: String) -> [OutcomeIssue] {
        StructuralValidator.validate(resource, expectedType: type)
    }

    static func profileIssues(_ resource: JSON, type: String, profileSet: TenantConfiguration.ProfileSet) -> [OutcomeIssue] {
        guard profileSet == .usCore else { return [] }
        guard let profile = profiles[type] else {
            // Unreachable once started (start-up requires every profile); never validate silently less.
            return [OutcomeIssue(code: .exception, diagnostics: "no profile is loaded for \(type)")]
        }
        return profile.validate(resource)
    }
}
