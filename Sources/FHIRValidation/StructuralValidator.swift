import FHIRModels

/// Structural validation of R4 resources in JSON against the official definitions (generated into
/// `R4Definitions` by `scripts/generate-r4-definitions.py`).
///
/// Checks element names, JSON kinds, array versus single values, choice elements, minimum cardinality,
/// primitive formats, the codes of required bindings the R4 schema enumerates, primitive extensions
/// (`_name`), contained resources and extensions. It does not check invariants (FHIRPath constraints),
/// terminology beyond those enumerations, profiles, or references.
public enum StructuralValidator {
    /// At most this many issues are reported (then one warning saying how many more there were).
    public static let maximumIssueCount = 100

    /// Validates a parsed resource against the official R4 definitions (generated into Swift).
    /// Returns all issues (empty = structurally valid R4). `expectedType` nil = any supported type.
    ///
    /// A Bundle is checked as an envelope: each `entry.resource` must be an object with an R4 resourceType;
    /// validating the entries' resources is the caller's job.
    public static func validate(_ resource: JSON, expectedType: String?) -> [OutcomeIssue] {
        var walker = ResourceWalker(limit: maximumIssueCount)
        guard case .object(let object) = resource else {
            walker.issues.add(.structure, "A resource must be a JSON object", at: "")
            return walker.issues.finished()
        }
        guard let typeValue = object["resourceType"] else {
            walker.issues.add(.required, "Missing resourceType", at: "resourceType")
            return walker.issues.finished()
        }
        guard case .string(let type) = typeValue, R4Definitions.resourceTypeNames.contains(type) else {
            walker.issues.add(.structure, "resourceType is not an R4 resource type", at: "resourceType")
            return walker.issues.finished()
        }
        if let expectedType, expectedType != type {
            walker.issues.add(.invalid, "Expected resourceType \(expectedType), found \(type)", at: "resourceType")
        }
        guard supportedResourceTypes.contains(type) else {
            walker.issues.add(.notSupported, "Structural validation of \(type) is not supported", at: "resourceType")
            return walker.issues.finished()
        }
        walker.walkResource(object, type: type, path: type, contained: false, depth: 0)
        return walker.issues.finished()
    }

    /// Resource types this validator has definitions for.
    public static var supportedResourceTypes: Set<String> { TypeCatalog.supportedResourceTypes }
}
