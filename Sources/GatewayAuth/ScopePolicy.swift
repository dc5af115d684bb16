/// SMART scopes (App Launch 2.0 syntax, and 1.0's `read`/`write`/`*`) as typed grants.
public struct ScopeGrant: Sendable, Equatable {
    public enum Context: String, Sendable { case patient, user, system }

    public let context: Context
    /// A resource type, or `*`.
    public let resourceType: String
    /// A subset of `c r u d s`.
    public let permissions: Set<Character>
    /// A v2 granular filter (`?category=...`), kept as written.
    public let filter: String?

    /// Parses one scope; nil for anything that is not a resource scope or is malformed.
    public static func parse(_ scope: some StringProtocol) -> ScopeGrant? {
        let text = String(scope)
        guard let slash = text.firstIndex(of: "/"), let context = Context(rawValue: String(text[..<slash])) else { return nil }
        var rest = String(text[text.index(after: slash)...])
        var filter: String?
        if let question = rest.firstIndex(of: "?") {
            filter = String(rest[rest.index(after: question)...])
            rest = String(rest[..<question])
            guard !(filter ?? "").isEmpty else { return nil }
        }
        guard let dot = rest.lastIndex(of: ".") else { return nil }
        let type = String(rest[..<dot])
        let permissionText = String(rest[rest.index(after: dot)...])
        guard type == "*" || (type.first?.isUppercase == true && type.allSatisfy { $0.isLetter }) else { return nil }
        let permissions: Set<Character>
        switch permissionText {
        case "read": permissions = ["r", "s"]
        case "write": permissions = ["c", "u", "d"]
        case "*": permissions = ["c", "r", "u", "d", "s"]
        default:
            guard !permissionText.isEmpty, isOrderedSubset(permissionText) else { return nil }
            permissions = Set(permissionText)
        }
        if filter != nil, ["read", "write", "*"].contains(permissionText) { return nil }
        return ScopeGrant(context: context, resourceType: type, permissions: permissions, filter: filter)
    }

    /// `cruds` letters, each at most once, in that order.
    static func isOrderedSubset(_ text: String) -> Bool {
        var remaining = Substring("cruds")
        for character in text {
            guard let index = remaining.firstIndex(of: character) else { return false }
            remaining = remaining[remaining.index(after: index)...]
        }
        return true
    }
}

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
