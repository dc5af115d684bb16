import GatewayConfig

/// Decides what a token's scopes allow, before any query runs.
public struct ScopePolicy: Sendable {
    public enum Access: Sendable {
        case read, search, create, update

        var letter: Character {
            switch self {
            case .read: "r"
            case .search: "s"
            case .create: "c"
            case .update: "u"
            }
        }

        var verb: String {
            switch self {
            case .read: "reading"
            case .search: "searching"
            case .create: "creating"
            case .update: "updating"
            }
        }
    }

    /// What the grants allow for one access to one type.
    public enum Decision: Sendable, Equatable {
        /// Allowed; `patient` confines to that compartment, `filters` are granular scope queries (ANDed).
        case allowed(patient: String?, filters: [String])
        case denied(String)

        public var isAllowed: Bool {
            if case .allowed = self { return true }
            return false
        }
    }

    public let grants: [ScopeGrant]

    public init(scope: String) {
        grants = scope.split(separator: " ").compactMap(ScopeGrant.parse)
    }

    /// The most permissive grant wins: an unfiltered user/system grant allows everything of the type;
    /// otherwise filtered user/system grants, otherwise patient grants, which need a `patient` claim
    /// and reach only the patient compartment. Combinations that cannot be expressed exactly are
    /// narrowed (a single filter is kept), never widened.
    public func decide(_ access: Access, resourceType: String, patient: String? = nil) -> Decision {
        let letter = access.letter
        // The audit trail needs an explicit AuditEvent grant; wildcards do not reach it.
        let candidates = grants.filter {
            ($0.resourceType == resourceType || ($0.resourceType == "*" && resourceType != "AuditEvent")) && $0.permissions.contains(letter)
        }
        let contextual = candidates.filter { $0.context != .patient }
        if contextual.contains(where: { $0.filter == nil }) { return .allowed(patient: nil, filters: []) }
        if let filtered = contextual.first, let filter = filtered.filter { return .allowed(patient: nil, filters: [filter]) }
        let patientGrants = candidates.filter { $0.context == .patient }
        guard !patientGrants.isEmpty else {
            return .denied("the token's scopes do not allow \(access.verb) \(resourceType)")
        }
        guard let patient, !patient.isEmpty else { return .denied("patient-context scopes need a patient claim in the token") }
        guard AccessRestriction.compartmentTypes.contains(resourceType) else {
            return .denied("patient-context scopes reach only the patient's compartment, which has no \(resourceType)")
        }
        let filters = patientGrants.contains { $0.filter == nil } ? [] : Array(patientGrants.compactMap(\.filter).prefix(1))
        return .allowed(patient: patient, filters: filters)
    }

    /// Scope strings to advertise in the SMART configuration.
    public static func supportedScopeExamples(resourceTypes: [String]) -> [String] {
        var scopes = ["system/*.rs", "user/*.rs", "system/*.read", "user/*.read"]
        for type in resourceTypes { scopes += ["system/\(type).rs", "user/\(type).rs"] }
        return scopes
    }
}
