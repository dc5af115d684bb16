/// How a column is stored, so each store can bind and decode it in its own types.
public enum HMSColumnKind: Sendable, Equatable {
    case uuid
    case text
    /// A calendar date (`date` in PostgreSQL, `YYYY-MM-DD` text in SQLite).
    case date
    /// A point in time (`timestamptz` in PostgreSQL, `YYYY-MM-DDThh:mm:ssZ` text in SQLite).
    case timestamp
    case integer
    /// An exact decimal (`numeric` in PostgreSQL, `REAL` in SQLite).
    case decimal
    case bool
}

public struct HMSColumn: Sendable, Equatable {
    public let name: String
    public let kind: HMSColumnKind

    public init(_ name: String, _ kind: HMSColumnKind) {
        self.name = name
        self.kind = kind
    }
}
