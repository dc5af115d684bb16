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

    /// Whether this (registered) grant allows everything `requested` asks for: same context, the
    /// same type or `*` (which, as in the scope policy, never reaches AuditEvent), every permission,
    /// and no filter or the same filter.
    public func covers(_ requested: ScopeGrant) -> Bool {
        context == requested.context
            && (resourceType == requested.resourceType || (resourceType == "*" && requested.resourceType != "AuditEvent"))
            && requested.permissions.isSubset(of: permissions)
            && (filter == nil || filter == requested.filter)
    }
}
