/// A search parameter the gateway supports, with its R4 type.
public struct SearchParameterDefinition: Sendable, Equatable {
    public enum ParameterType: String, Sendable { case string, token, date, reference, quantity }

    public let name: String
    public let type: ParameterType
    /// Resource types a reference parameter may point to.
    public let targets: [String]
    public let sortable: Bool

    public init(_ name: String, _ type: ParameterType, targets: [String] = [], sortable: Bool = false) {
        self.name = name
        self.type = type
        self.targets = targets
        self.sortable = sortable
    }

    /// Modifiers accepted for this parameter type.
    public var modifiers: Set<String> {
        switch type {
        case .string: ["exact", "contains", "missing"]
        case .token: ["missing", "not"]
        case .date: ["missing"]
        case .reference: Set(["missing"] + targets)
        case .quantity: ["missing"]
        }
    }
}

/// An `_include` or `_revinclude` the gateway supports: `source:parameter` pointing at `target`.
public struct IncludeDefinition: Sendable, Equatable, Hashable {
    public let source: String
    public let parameter: String
    public let target: String

    public init(_ source: String, _ parameter: String, _ target: String) {
        self.source = source
        self.parameter = parameter
        self.target = target
    }

    public var value: String { "\(source):\(parameter)" }
}
