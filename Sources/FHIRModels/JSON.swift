/// A JSON value that keeps object members in the order they were written.
///
/// FHIR resources are emitted with elements in specification order, and numbers keep
/// their written form (`7.10` stays `7.10`), so neither `[String: Any]` nor `Double` fits.
public enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    /// A number kept exactly as written.
    case number(String)
    case string(String)
    case array([JSON])
    case object(JSONObject)

    public static func int(_ value: Int) -> JSON { .number(String(value)) }

    public subscript(key: String) -> JSON? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var arrayValue: [JSON]? {
        if case .array(let value) = self { return value }
        return nil
    }

    public var objectValue: JSONObject? {
        if case .object(let value) = self { return value }
        return nil
    }
}

/// Ordered JSON object members.
public struct JSONObject: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    public private(set) var members: [Member]

    public struct Member: Sendable, Equatable {
        public var key: String
        public var value: JSON
    }

    public init() { self.members = [] }

    public init(dictionaryLiteral elements: (String, JSON)...) {
        self.members = elements.map { Member(key: $0.0, value: $0.1) }
    }

    public var isEmpty: Bool { members.isEmpty }
    public var keys: [String] { members.map(\.key) }

    public subscript(key: String) -> JSON? {
        get { members.first { $0.key == key }?.value }
        set {
            if let index = members.firstIndex(where: { $0.key == key }) {
                if let newValue { members[index].value = newValue } else { members.remove(at: index) }
            } else if let newValue {
                members.append(Member(key: key, value: newValue))
            }
        }
    }

    /// Appends a member unless the value is nil; keeps construction code free of `if let`.
    public mutating func append(_ key: String, _ value: JSON?) {
        guard let value else { return }
        members.append(Member(key: key, value: value))
    }

    public mutating func append(_ key: String, _ value: String?) {
        guard let value else { return }
        members.append(Member(key: key, value: .string(value)))
    }

    public mutating func removeAll(where shouldRemove: (Member) -> Bool) {
        members.removeAll(where: shouldRemove)
    }
}
