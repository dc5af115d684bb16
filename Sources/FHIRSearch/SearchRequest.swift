import FHIRModels

/// `system|code` as written: `system` nil when no `|` was given, empty for `|code`.
public struct TokenValue: Sendable, Equatable {
    public var system: String?
    public var code: String?

    public init(system: String?, code: String?) {
        self.system = system
        self.code = code
    }
}

public enum DatePrefix: String, Sendable, CaseIterable { case eq, ne, lt, gt, le, ge, sa, eb, ap }

public struct DateValue: Sendable, Equatable {
    public var prefix: DatePrefix
    public var value: FHIRDateTime
}

/// `[prefix]number[|system|code]`; the number keeps its written precision.
public struct QuantityValue: Sendable, Equatable {
    public var prefix: DatePrefix
    public var number: String
    public var system: String?
    public var code: String?
}

public struct ReferenceValue: Sendable, Equatable {
    public var type: String?
    public var id: String
}

public enum SearchValue: Sendable, Equatable {
    case string(String)
    case token(TokenValue)
    case date(DateValue)
    case reference(ReferenceValue)
    case quantity(QuantityValue)
    /// A reference to a server other than this tenant's base: it can match nothing here.
    case foreignReference
}

/// One parameter occurrence: its values are alternatives (OR); separate clauses combine with AND.
public struct SearchClause: Sendable, Equatable {
    public var parameter: SearchParameterDefinition
    public var modifier: String?
    public var values: [SearchValue]
    /// For `:missing=true|false`.
    public var missing: Bool?
}

public struct SortKey: Sendable, Equatable {
    public var parameter: String
    public var descending: Bool
}

public enum TotalMode: String, Sendable { case none, estimate, accurate }

/// A parsed, validated search, ready for a store to run inside a tenant scope.
public struct SearchRequest: Sendable {
    public var resourceType: String
    public var clauses: [SearchClause]
    public var sort: [SortKey]
    public var count: Int
    public var includes: [IncludeDefinition]
    public var revincludes: [IncludeDefinition]
    public var summaryCount: Bool
    public var elements: [String]?
    public var total: TotalMode?
    public var cursor: String?
    /// The parameters applied, as written, in order: the `self` link and the cursor binding.
    public var appliedParameters: [(String, String)]
    /// Parameters that were ignored (unknown or unsupported), for an informational note.
    public var ignoredParameters: [String]
}
