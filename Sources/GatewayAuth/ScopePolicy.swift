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

    public enum Decision: Sendable, Equatable {
        case allowed
        case denied(String)
    }

    public let grants: [ScopeGrant]

    public init(scope: String) {
        grants = scope.split(separator: " ").compactMap(ScopeGrant.parse)
    }

    /// Patient-context grants need compartment enforcement and granular filters need result
    /// narrowing; until both exist such grants allow nothing, so they can never over-grant.
    public func decide(_ access: Access, resourceType: String) -> Decision {
        let letter = access.letter
        let usable = grants.filter { $0.context != .patient && $0.filter == nil }
        if usable.contains(where: { ($0.resourceType == "*" || $0.resourceType == resourceType) && $0.permissions.contains(letter) }) {
            return .allowed
        }
        if grants.contains(where: { $0.context == .patient }) && usable.isEmpty {
            return .denied("patient-context scopes are not supported by this gateway yet")
        }
        return .denied("the token's scopes do not allow \(access.verb) \(resourceType)")
    }

    /// Scope strings to advertise in the SMART configuration.
    public static func supportedScopeExamples(resourceTypes: [String]) -> [String] {
        var scopes = ["system/*.rs", "user/*.rs", "system/*.read", "user/*.read"]
        for type in resourceTypes { scopes += ["system/\(type).rs", "user/\(type).rs"] }
        return scopes
    }
}
