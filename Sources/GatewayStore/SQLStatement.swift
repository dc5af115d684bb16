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
/// Only builders in this module write SQL, and identifiers come only from the HMS table definitions.
public struct SQLStatement: Sendable {
    public var sql: String
    public var binds: [SQLBind]

    public init(_ sql: String = "", _ binds: [SQLBind] = []) {
        self.sql = sql
        self.binds = binds
    }

    mutating func append(_ fragment: String, _ newBinds: SQLBind...) {
        sql += fragment
        binds.append(contentsOf: newBinds)
    }

    mutating func append(_ other: SQLStatement) {
        sql += other.sql
        binds.append(contentsOf: other.binds)
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
