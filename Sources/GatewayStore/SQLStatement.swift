import HMSMapping

/// A bound value together with the column kind it is compared against.
public enum SQLBind: Sendable, Equatable {
    case text(String)
    case uuid(String)
    case date(String)
    case timestamp(String)
    case integer(Int64)
    /// A decimal kept as written (numeric in PostgreSQL).
    case decimal(String)
    case bool(Bool)
    case null

    static func of(_ kind: HMSColumnKind, _ text: String) -> SQLBind {
        switch kind {
        case .uuid: .uuid(text)
        case .text: .text(text)
        case .date: .date(text)
        case .timestamp: .timestamp(text)
        case .integer: .integer(Int64(text) ?? 0)
        case .decimal: .decimal(text)
        case .bool: .bool(text == "true" || text == "1")
        }
    }
}

/// SQL with `?` placeholders and their binds; each backend renders the placeholders its own way.
///
/// Values can only enter as binds: constant SQL is a `StaticString`, and interpolation binds what it
/// is given (`"t.family = \(SQLBind.text(name))"` becomes `t.family = ?`). Raw text needs the explicit
/// `\(unsafeRaw:)` and is used only for identifiers from the HMS table definitions; `\(Int)` writes
/// digits, which cannot carry SQL.
public struct SQLStatement: Sendable, ExpressibleByStringInterpolation {
    public private(set) var sql: String
    public private(set) var binds: [SQLBind]

    public init() {
        self.sql = ""
        self.binds = []
    }

    public init(stringLiteral value: StaticString) {
        self.sql = value.description
        self.binds = []
    }

    public init(stringInterpolation: Interpolation) {
        self.sql = stringInterpolation.sql
        self.binds = stringInterpolation.binds
    }

    public struct Interpolation: StringInterpolationProtocol {
        public typealias StringLiteralType = StaticString
        var sql = ""
        var binds: [SQLBind] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            sql.reserveCapacity(literalCapacity + interpolationCount * 2)
        }

        public mutating func appendLiteral(_ literal: StaticString) { sql += literal.description }

        /// A value, always as a placeholder.
        public mutating func appendInterpolation(_ bind: SQLBind) {
            sql += "?"
            binds.append(bind)
        }

        /// A fragment built the same way.
        public mutating func appendInterpolation(_ fragment: SQLStatement) {
            sql += fragment.sql
            binds += fragment.binds
        }

        /// A number (limits, sizes): digits only.
        public mutating func appendInterpolation(_ number: Int) { sql += String(number) }

        /// Text spliced into the SQL as it is: only identifiers from the table definitions, never input.
        public mutating func appendInterpolation(unsafeRaw text: String) { sql += text }
    }

    /// A literal (identifiers interpolated with `\(unsafeRaw:)`) whose `?` placeholders take `binds`.
    public init(_ fragment: SQLStatement, _ binds: [SQLBind] = []) {
        self.sql = fragment.sql
        self.binds = fragment.binds + binds
    }

    mutating func append(_ fragment: SQLStatement, _ newBinds: SQLBind...) {
        append(fragment, newBinds)
    }

    mutating func append(_ fragment: SQLStatement, _ newBinds: [SQLBind]) {
        sql += fragment.sql
        binds += fragment.binds + newBinds
    }


    /// `$1::uuid`-style placeholders for PostgreSQL.
    func postgresSQL() -> String {
        var output = ""
        output.reserveCapacity(sql.utf8.count + binds.count * 8)
        var index = 0
        for character in sql {
            guard character == "?" else { output.append(character); continue }
            let bind = index < binds.count ? binds[index] : .null
            index += 1
            output += "$\(index)"
            switch bind {
            case .uuid: output += "::uuid"
            case .date: output += "::date"
            case .timestamp: output += "::timestamptz"
            case .text: output += "::text"
            case .integer: output += "::bigint"
            case .decimal: output += "::numeric"
            case .bool: output += "::boolean"
            case .null: break
            }
        }
        return output
    }
}
