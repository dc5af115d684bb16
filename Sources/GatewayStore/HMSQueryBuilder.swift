import Foundation
import FHIRModels
import FHIRSearch
import GatewayAuth
import HMSMapping

/// Builds tenant-scoped SQL for the HMS tables. The tenant predicate comes from the
/// ``TenantScope`` and is the first condition of every statement built here.
struct HMSQueryBuilder {
    let table: HMSResourceTable
    let scope: TenantScope

    init(table: HMSResourceTable, scope: TenantScope) {
        self.table = table
        self.scope = scope
    }

    var selectList: String { table.columns.map { "t.\($0.name)" }.joined(separator: ", ") }

    func base(select: String) -> SQLStatement {
        var statement = SQLStatement("SELECT \(unsafeRaw: select) FROM \(unsafeRaw: table.table) t WHERE t.tenant_id = ?", [.uuid(scope.tenantID)])
        for filter in table.fixedFilters { statement.append(" AND t.\(unsafeRaw: filter.column.name) = ?", .of(filter.column.kind, filter.value)) }
        statement.append(restrictionConditions())
        return statement
    }

    /// The SMART restriction of the scope: the patient compartment and granular scope clauses.
    private func restrictionConditions() -> SQLStatement {
        var statement = SQLStatement()
        if let patient = scope.restriction.patient {
            guard let uuid = HMSIdentifier.normalizedUUID(patient), AccessRestriction.compartmentTypes.contains(table.resourceType) else {
                return SQLStatement(" AND 1 = 0")
            }
            let column = table.resourceType == "Patient" ? table.idColumn.name : "patient_id"
            statement.append(" AND t.\(unsafeRaw: column) = ?", .uuid(uuid))
        }
        for clause in scope.restriction.clauses[table.resourceType] ?? [] {
            statement.append(" AND ")
            statement.append(condition(clause))
        }
        if let hospitals = scope.restriction.hospitals {
            // Confined to some hospitals: a type whose rows name no hospital shows nothing.
            guard let column = table.hospitalColumn, !hospitals.isEmpty else { return SQLStatement(" AND 1 = 0") }
            statement.append(Self.hospitalCondition(column: "t.\(column.name)", hospitals))
        }
        return statement
    }

    /// ` AND <column> IN (...)` over the hospital ids, in a fixed order.
    static func hospitalCondition(column: String, _ hospitals: Set<String>) -> SQLStatement {
        var statement = SQLStatement(" AND \(unsafeRaw: column) IN (")
        for (index, hospital) in hospitals.sorted().enumerated() { statement.append(index == 0 ? "?" : ", ?", .uuid(hospital)) }
        statement.append(")")
        return statement
    }

    /// One resource by FHIR id; nil when the id cannot exist (it then matches nothing, without SQL).
    func read(id: String) -> SQLStatement? {
        guard let identity = table.identityPredicate(fhirID: id) else { return nil }
        var statement = base(select: selectList)
        for (column, value) in identity { statement.append(" AND t.\(unsafeRaw: column.name) = ?", .of(column.kind, value)) }
        return statement
    }

    /// Rows whose `column` is one of `values` (includes and revincludes), bounded by `limit`;
    /// `fixed` adds equalities such as the encounter kind.
    func rows(where column: HMSColumn, in values: [String], fixed: [(HMSColumn, String)] = [], limit: Int) -> SQLStatement {
        var statement = base(select: selectList)
        for (fixedColumn, value) in fixed { statement.append(" AND t.\(unsafeRaw: fixedColumn.name) = ?", .of(fixedColumn.kind, value)) }
        statement.append(" AND t.\(unsafeRaw: column.name) IN (")
        for (index, value) in values.enumerated() {
            statement.append(index == 0 ? "?" : ", ?", .of(column.kind, value))
        }
        statement.append(") ORDER BY \(unsafeRaw: table.keyColumns.map { "t.\($0.name)" }.joined(separator: ", ")) LIMIT \(max(1, limit))")
        return statement
    }

    /// A page of matches after `position`, fetching `limit` rows.
    func search(_ request: SearchRequest, after position: PagePosition?, limit: Int) -> SQLStatement {
        var statement = base(select: selectList)
        statement.append(conditions(request))
        let order = sortExpressions(request)
        if let position {
            statement.append(keyset(order: order, position: position))
        }
        statement.append(" ORDER BY \(unsafeRaw: order.map { "\($0.sql) \($0.descending ? "DESC" : "ASC")" }.joined(separator: ", "))")
        statement.append(" LIMIT \(max(1, limit))")
        return statement
    }

    func count(_ request: SearchRequest) -> SQLStatement {
        var statement = base(select: "COUNT(*) AS total")
        statement.append(conditions(request))
        return statement
    }

    // MARK: Sorting and keyset paging

    struct SortExpression {
        let sql: String
        let kind: HMSColumnKind
        let descending: Bool
        /// The row column whose value the next cursor records.
        let column: HMSColumn
    }

    static func sentinel(_ kind: HMSColumnKind) -> String {
        switch kind {
        case .date: "0001-01-01"
        case .timestamp: "0001-01-01T00:00:00Z"
        case .integer, .decimal: "0"
        case .bool: "false"
        case .uuid: "00000000-0000-0000-0000-000000000000"
        case .text: ""
        }
    }

    func sortExpressions(_ request: SearchRequest) -> [SortExpression] {
        var expressions: [SortExpression] = []
        for key in request.sort {
            let columns: [HMSColumn]
            switch key.parameter {
            case "_id": columns = []
            case "_lastUpdated": columns = [table.lastUpdatedColumn]
            default: columns = table.sortColumns[key.parameter] ?? []
            }
            for column in columns where !expressions.contains(where: { $0.column == column }) {
                let sql = HMSSchema.isRequired(table: table.table, column: column.name)
                    ? "t.\(column.name)" : "COALESCE(t.\(column.name), \(literal(Self.sentinel(column.kind), column.kind)))"
                expressions.append(SortExpression(sql: sql, kind: column.kind, descending: key.descending, column: column))
            }
        }
        let idDescending = request.sort.first { $0.parameter == "_id" }?.descending ?? false
        for column in table.keyColumns {
            expressions.append(SortExpression(sql: "t.\(column.name)", kind: column.kind, descending: idDescending, column: column))
        }
        return expressions
    }

    /// A constant typed for the column; only fixed sentinels reach here, never client input.
    private func literal(_ value: String, _ kind: HMSColumnKind) -> String {
        switch kind {
        case .integer, .decimal: value
        case .bool: value
        case .uuid: "'\(value)'"
        case .text, .date, .timestamp: "'\(value)'"
        }
    }

    private func keyset(order: [SortExpression], position: PagePosition) -> SQLStatement {
        guard let keyValues = table.keyValues(fhirID: position.id) else { return SQLStatement(" AND 1 = 0") }
        let values = position.sortValues + keyValues
        guard values.count == order.count else { return SQLStatement(" AND 1 = 0") }
        var statement = SQLStatement(" AND (")
        for level in 0..<order.count {
            statement.append(level == 0 ? "(" : " OR (")
            for previous in 0..<level {
                statement.append("\(unsafeRaw: order[previous].sql) = ? AND ", bind(order[previous].kind, values[previous]))
            }
            statement.append("\(unsafeRaw: order[level].sql) \(unsafeRaw: order[level].descending ? "<" : ">") ?)", bind(order[level].kind, values[level]))
        }
        statement.append(")")
        return statement
    }

    private func bind(_ kind: HMSColumnKind, _ text: String) -> SQLBind { .of(kind, text) }

    // MARK: Search conditions

    func conditions(_ request: SearchRequest) -> SQLStatement {
        var statement = SQLStatement()
        for clause in request.clauses {
            statement.append(" AND ")
            statement.append(condition(clause))
        }
        return statement
    }

    static let never = SQLStatement("1 = 0")
    static let always = SQLStatement("1 = 1")

    private func condition(_ clause: SearchClause) -> SQLStatement {
        if clause.parameter.name == "_id" {
            // Every resource has an id.
            if let missing = clause.missing { return missing ? Self.never : Self.always }
            return anyOf(clause.values.map { value in
                guard case .token(let token) = value, token.system == nil, let id = token.code,
                      let identity = table.identityPredicate(fhirID: id) else { return Self.never }
                var statement = SQLStatement("(")
                for (index, pair) in identity.enumerated() {
                    statement.append(index == 0 ? "t.\(unsafeRaw: pair.0.name) = ?" : " AND t.\(unsafeRaw: pair.0.name) = ?", .of(pair.0.kind, pair.1))
                }
                statement.append(")")
                return statement
            }, negate: clause.modifier == "not")
        }
        let column: HMSResourceTable.SearchColumn
        if clause.parameter.name == "_lastUpdated" {
            column = .date(start: table.lastUpdatedColumn, end: nil)
        } else if let mapped = table.searchColumns[clause.parameter.name] {
            column = mapped
        } else {
            return Self.never
        }
        if let missing = clause.missing {
            return missingCondition(column, missing: missing)
        }
        let matches = anyOf(clause.values.map { value(column, $0, modifier: clause.modifier) }, negate: false)
        guard clause.modifier == "not" else { return matches }
        // `:not` also matches resources that have no value for the parameter.
        var negated = SQLStatement("(")
        if case .token(let tokenColumn, _, _) = column { negated.append("t.\(unsafeRaw: tokenColumn.name) IS NULL OR ") }
        if case .booleanToken(let tokenColumn) = column { negated.append("t.\(unsafeRaw: tokenColumn.name) IS NULL OR ") }
        negated.append("NOT ")
        negated.append(matches)
        negated.append(")")
        return negated
    }

    private func anyOf(_ parts: [SQLStatement], negate: Bool) -> SQLStatement {
        if parts.isEmpty { return negate ? Self.always : Self.never }
        var statement = SQLStatement(negate ? "NOT (" : "(")
        for (index, part) in parts.enumerated() {
            if index > 0 { statement.append(" OR ") }
            statement.append(part)
        }
        statement.append(")")
        return statement
    }

    private func missingCondition(_ column: HMSResourceTable.SearchColumn, missing: Bool) -> SQLStatement {
        let columns: [HMSColumn]
        switch column {
        case .string(let list): columns = list
        case .token(let single, _, _), .booleanToken(let single), .reference(_, let single): columns = [single]
        case .date(let start, _): columns = [start]
        case .encounterReference(let appointment, let admission): columns = [appointment, admission]
        case .constantToken: return missing ? Self.never : Self.always
        case .quantity(let value, _, _): columns = [value]
        case .listedReference(_, let column): columns = [column]
        case .indexedToken(let parameter), .indexedReference(let parameter, _):
            let exists = indexedExists(parameter: parameter, extra: SQLStatement())
            var statement = SQLStatement(missing ? "NOT " : "")
            statement.append(exists)
            return statement
        }
        let test = columns.map { "t.\($0.name) IS NULL" }.joined(separator: " AND ")
        return SQLStatement(missing ? "(\(unsafeRaw: test))" : "NOT (\(unsafeRaw: test))")
    }

    private func value(_ column: HMSResourceTable.SearchColumn, _ value: SearchValue, modifier: String?) -> SQLStatement {
        switch (column, value) {
        case (.string(let columns), .string(let text)):
            return stringCondition(columns, text, modifier: modifier)
        case (.token(let column, let system, let codes), .token(let token)):
            return tokenCondition(column, system: system, codes: codes, token)
        case (.booleanToken(let column), .token(let token)):
            guard token.system == nil || token.system == "", let code = token.code, code == "true" || code == "false" else { return Self.never }
            return SQLStatement("t.\(unsafeRaw: column.name) = ?", [.bool(code == "true")])
        case (.constantToken(let system, let code), .token(let token)):
            let systemMatches = token.system == nil || token.system == system
            return systemMatches && (token.code == nil || token.code == code) ? Self.always : Self.never
        case (.date(let start, let end), .date(let date)):
            return dateCondition(start: start, end: end, date)
        case (.reference(let target, let column), .reference(let reference)):
            guard reference.type == nil || reference.type == target, let uuid = HMSIdentifier.normalizedUUID(reference.id) else { return Self.never }
            return SQLStatement("t.\(unsafeRaw: column.name) = ?", [.of(column.kind, uuid)])
        case (.indexedToken(let parameter), .token(let token)):
            var extra = SQLStatement()
            if let system = token.system { extra.append(" AND k.system = ?", .text(system)) }
            if let code = token.code { extra.append(" AND k.code = ?", .text(code)) }
            return indexedExists(parameter: parameter, extra: extra)
        case (.indexedReference(let parameter, let target), .reference(let reference)):
            guard reference.type == nil || reference.type == target, let uuid = HMSIdentifier.normalizedUUID(reference.id) else { return Self.never }
            return indexedExists(parameter: parameter, extra: SQLStatement(" AND k.code = ?", [.text("\(target)/\(uuid)")]))
        case (.listedReference(let target, let column), .reference(let reference)):
            guard reference.type == nil || reference.type == target, let uuid = HMSIdentifier.normalizedUUID(reference.id) else { return Self.never }
            return SQLStatement("(',' || t.\(unsafeRaw: column.name) || ',') LIKE ?", [.text("%," + uuid + ",%")])
        case (.quantity(let valueColumn, let systemColumn, let codeColumn), .quantity(let quantity)):
            return quantityCondition(valueColumn, systemColumn, codeColumn, quantity)
        case (.encounterReference(let appointment, let admission), .reference(let reference)):
            guard reference.type == nil || reference.type == "Encounter", let (kind, uuid) = EncounterID.parse(reference.id) else { return Self.never }
            let column = kind == "apt" ? appointment : admission
            return SQLStatement("t.\(unsafeRaw: column.name) = ?", [.of(column.kind, uuid)])
        default:
            return Self.never
        }
    }

    /// A row of `stored_resource_tokens` for this resource with the given parameter (and code).
    private func indexedExists(parameter: String, extra: SQLStatement) -> SQLStatement {
        var statement = SQLStatement("EXISTS (SELECT 1 FROM stored_resource_tokens k WHERE k.tenant_id = t.tenant_id AND k.resource_type = t.resource_type AND k.id = t.id AND k.parameter = ?", [.text(parameter)])
        statement.append(extra)
        statement.append(")")
        return statement
    }

    /// Number comparison with the precision of the value given (`5.4` means [5.35, 5.45)), and the unit if given.
    private func quantityCondition(_ valueColumn: HMSColumn, _ systemColumn: HMSColumn, _ codeColumn: HMSColumn, _ quantity: QuantityValue) -> SQLStatement {
        let (low, high) = Self.precisionBounds(quantity.number)
        let v = "t.\(valueColumn.name)"
        var statement: SQLStatement
        switch quantity.prefix {
        case .eq, .ap: statement = SQLStatement("(\(unsafeRaw: v) >= ? AND \(unsafeRaw: v) < ?)", [.decimal(low), .decimal(high)])
        case .ne: statement = SQLStatement("(\(unsafeRaw: v) < ? OR \(unsafeRaw: v) >= ?)", [.decimal(low), .decimal(high)])
        case .gt, .sa: statement = SQLStatement("\(unsafeRaw: v) > ?", [.decimal(quantity.number)])
        case .lt, .eb: statement = SQLStatement("\(unsafeRaw: v) < ?", [.decimal(quantity.number)])
        case .ge: statement = SQLStatement("\(unsafeRaw: v) >= ?", [.decimal(quantity.number)])
        case .le: statement = SQLStatement("\(unsafeRaw: v) <= ?", [.decimal(quantity.number)])
        }
        if let system = quantity.system { statement.append(" AND t.\(unsafeRaw: systemColumn.name) = ?", .text(system)) }
        if let code = quantity.code { statement.append(" AND t.\(unsafeRaw: codeColumn.name) = ?", .text(code)) }
        return SQLStatement("(\(statement))")
    }

    /// Half a unit of the last written digit either side: `5.4` gives 5.35 and 5.45.
    static func precisionBounds(_ number: String) -> (String, String) {
        guard let value = Decimal(string: number) else { return (number, number) }
        let decimals = number.split(separator: ".").count > 1 ? number.split(separator: ".")[1].prefix { $0.isNumber }.count : 0
        var half = Decimal(5)
        for _ in 0...decimals { half /= 10 }
        return ("\(value - half)", "\(value + half)")
    }

    private func stringCondition(_ columns: [HMSColumn], _ text: String, modifier: String?) -> SQLStatement {
        var statement = SQLStatement("(")
        for (index, column) in columns.enumerated() {
            if index > 0 { statement.append(" OR ") }
            let stored = HMSSchema.hasFoldedColumn(table: table.table, column: column.name)
            let folded = stored ? "t.\(HMSSchema.foldedColumnName(column.name))" : "gw_fold(t.\(column.name))"
            switch modifier {
            case "exact":
                statement.append("t.\(unsafeRaw: column.name) = ?", .text(text))
            case "contains":
                statement.append("\(unsafeRaw: folded) LIKE ? ESCAPE '\\'", .text("%" + Self.likeEscaped(TextFolding.fold(text)) + "%"))
            default:
                if stored {
                    statement.append("starts_with(\(unsafeRaw: folded), ?)", .text(TextFolding.fold(text)))
                } else {
                    statement.append("\(unsafeRaw: folded) LIKE ? ESCAPE '\\'", .text(Self.likeEscaped(TextFolding.fold(text)) + "%"))
                }
            }
        }
        statement.append(")")
        return statement
    }

    static func likeEscaped(_ text: String) -> String {
        var output = ""
        for character in text {
            if character == "%" || character == "_" || character == "\\" { output.append("\\") }
            output.append(character)
        }
        return output
    }

    private func tokenCondition(_ column: HMSColumn, system: HMSResourceTable.IdentifierSystem?, codes: [String: [String]]?, _ token: TokenValue) -> SQLStatement {
        if let requested = token.system {
            let expected = system?.value(tenant: scope.slug) ?? ""
            guard requested == expected else { return Self.never }
        }
        guard let code = token.code else { return SQLStatement("t.\(unsafeRaw: column.name) IS NOT NULL") }
        if let codes, code == "unknown", codes["unknown"] == nil {
            // HMS codes without a FHIR equivalent are emitted as `unknown`.
            var statement = SQLStatement("(t.\(unsafeRaw: column.name) IS NULL OR t.\(unsafeRaw: column.name) NOT IN (")
            for (index, value) in codes.values.flatMap({ $0 }).sorted().enumerated() {
                statement.append(index == 0 ? "?" : ", ?", .of(column.kind, value))
            }
            statement.append("))")
            return statement
        }
        let stored: [String] = codes.map { $0[code] ?? [] } ?? [code]
        guard !stored.isEmpty else { return Self.never }
        var statement = SQLStatement("t.\(unsafeRaw: column.name) IN (")
        for (index, value) in stored.enumerated() {
            statement.append(index == 0 ? "?" : ", ?", .of(column.kind, value))
        }
        statement.append(")")
        return statement
    }

    /// R4 date semantics on a point (`end` nil) or a period column pair. Bounds beyond the storable
    /// years become constant conditions instead of values no store can compare correctly: `le9999`
    /// matches every dated row, `gt9999` only ongoing periods, `lt0001` nothing.
    private func dateCondition(start: HMSColumn, end: HMSColumn?, _ date: DateValue) -> SQLStatement {
        var lower = date.value.lower
        var upper = date.value.upper
        if date.prefix == .ap {
            let now = Int64(Date.nowEpoch)
            let gap = max(86400, abs(now - lower) / 10)
            lower -= gap
            upper += gap
        }
        let s = "t.\(start.name)"
        let e = end.map { "t.\($0.name)" }
        let kind = start.kind
        let below: (String, Int64, Bool) -> SQLStatement = { column, seconds, roundUp in Self.comparison(column, .below, seconds, kind, roundUp: roundUp) }
        let atLeast: (String, Int64, Bool) -> SQLStatement = { column, seconds, roundUp in Self.comparison(column, .atLeast, seconds, kind, roundUp: roundUp) }
        // A missing end means the period is ongoing (open to the future).
        let endAtLeast: (Int64, Bool) -> SQLStatement = { seconds, roundUp in
            guard let e else { return atLeast(s, seconds, roundUp) }
            return "(\(unsafeRaw: e) IS NULL OR \(atLeast(e, seconds, roundUp)))"
        }
        switch date.prefix {
        case .eq:
            guard let e else { return "(\(atLeast(s, lower, false)) AND \(below(s, upper, true)))" }
            return "(\(atLeast(s, lower, false)) AND \(unsafeRaw: e) IS NOT NULL AND \(below(e, upper, true)))"
        case .ne:
            guard let e else { return "(\(below(s, lower, false)) OR \(atLeast(s, upper, true)))" }
            return "(\(below(s, lower, false)) OR \(unsafeRaw: e) IS NULL OR \(atLeast(e, upper, true)))"
        case .lt: return below(s, lower, false)
        case .le: return below(s, upper, true)
        case .gt: return endAtLeast(upper, true)
        case .ge: return endAtLeast(lower, false)
        case .sa: return atLeast(s, upper, true)
        case .eb:
            guard let e else { return below(s, lower, false) }
            return "(\(unsafeRaw: e) IS NOT NULL AND \(below(e, lower, false)))"
        case .ap:
            return "(\(below(s, upper, true)) AND \(endAtLeast(lower, false)))"
        }
    }

    enum Comparison { case below, atLeast }

    /// `column < bound` or `column >= bound`; a bound outside the storable years is a constant
    /// (always true for a dated row, or never). Date columns compare whole days: an upper bound
    /// rounds up to the next midnight, a lower one down.
    static func comparison(_ column: String, _ comparison: Comparison, _ seconds: Int64, _ kind: HMSColumnKind, roundUp: Bool) -> SQLStatement {
        var bound = seconds
        if kind == .date {
            let day = Int64(CivilTime.floorDays(seconds))
            bound = (roundUp && seconds != day * 86400 ? day + 1 : day) * 86400
        }
        let everyDatedRow: SQLStatement = "\(unsafeRaw: column) IS NOT NULL"
        switch comparison {
        case .below:
            if bound >= StorableTime.end { return everyDatedRow }
            if bound <= StorableTime.firstSecond { return never }
        case .atLeast:
            if bound <= StorableTime.firstSecond { return everyDatedRow }
            if bound >= StorableTime.end { return never }
        }
        let value: SQLBind = kind == .date ? .date(CivilTime.isoDate(epochSeconds: bound)) : .timestamp(CivilTime.isoInstant(epochSeconds: bound))
        return "\(unsafeRaw: column) \(unsafeRaw: comparison == .below ? "<" : ">=") \(value)"
    }
}
