import FHIRModels
import Foundation

/// Turns query parameters into a ``SearchRequest``; malformed values are 400 naming the parameter.
public struct SearchParser: Sendable {
    public var defaultCount: Int
    public var maximumCount: Int
    /// `Prefer: handling=strict`: unknown parameters are an error instead of being ignored.
    public var strict: Bool
    /// The tenant's FHIR base (`https://host/acme/r4`), for absolute references.
    public var baseURL: String

    public init(defaultCount: Int, maximumCount: Int, strict: Bool, baseURL: String) {
        self.defaultCount = defaultCount
        self.maximumCount = maximumCount
        self.strict = strict
        self.baseURL = baseURL
    }

    /// Result-control parameters the HTTP layer handles, never part of a search.
    public static let transportParameters: Set<String> = ["_format", "_pretty"]

    /// Most values (OR alternatives, summed over every parameter) one search may hold: each becomes
    /// bound SQL parameters, and SQLite refuses statements with too many.
    public static let maximumTerms = 100

    public func parse(resourceType: String, parameters: [(String, String)]) throws(FHIRError) -> SearchRequest {
        var request = SearchRequest(resourceType: resourceType, clauses: [], sort: [], count: defaultCount, includes: [], revincludes: [],
                                    summaryCount: false, elements: nil, total: nil, cursor: nil, appliedParameters: [], ignoredParameters: [])
        for (key, value) in parameters {
            if Self.transportParameters.contains(key) { continue }
            switch key {
            case "_cursor":
                request.cursor = value
                continue
            case "_count":
                guard let count = Int(value), count >= 0 else { throw .badRequest("_count must be a non-negative integer", code: .value, expression: ["_count"]) }
                request.count = min(count, maximumCount)
                if count == 0 { request.summaryCount = true }
                continue
            case "_sort":
                guard !value.isEmpty else { throw .badRequest("_sort has no value", code: .value, expression: ["_sort"]) }
                request.sort = try parseSort(value, resourceType: resourceType)
            case "_include" where value.isEmpty, "_revinclude" where value.isEmpty:
                throw .badRequest("\(key) has no value", code: .value, expression: [key])
            case "_include":
                guard let include = match(value, in: SearchRegistry.includes[resourceType] ?? []) else {
                    try ignore(key, value, into: &request, reason: "unsupported _include")
                    continue
                }
                if !request.includes.contains(include) { request.includes.append(include) }
            case "_revinclude":
                guard let include = match(value, in: SearchRegistry.revincludes[resourceType] ?? []) else {
                    try ignore(key, value, into: &request, reason: "unsupported _revinclude")
                    continue
                }
                if !request.revincludes.contains(include) { request.revincludes.append(include) }
            case "_summary":
                switch value {
                case "count": request.summaryCount = true
                case "false": break
                default:
                    try ignore(key, value, into: &request, reason: "unsupported _summary value")
                    continue
                }
            case "_total":
                guard let total = TotalMode(rawValue: value) else {
                    throw .badRequest("_total must be none, estimate or accurate", code: .value, expression: ["_total"])
                }
                request.total = total
            case "_elements":
                let names = value.split(separator: ",").map { String($0).trimmingSpaces }
                guard !names.isEmpty, names.allSatisfy(Self.isElementName) else {
                    throw .badRequest("_elements must be a comma-separated list of element names", code: .value, expression: ["_elements"])
                }
                request.elements = names
            default:
                guard let clause = try parseClause(key: key, value: value, resourceType: resourceType, request: &request) else { continue }
                request.clauses.append(clause)
            }
            request.appliedParameters.append((key, value))
        }
        let terms = request.clauses.reduce(0) { $0 + max(1, $1.values.count) }
        guard terms <= Self.maximumTerms else {
            throw FHIRError(status: 400, code: .tooCostly, "the search has \(terms) terms; at most \(Self.maximumTerms) values across all parameters are accepted")
        }
        request.appliedParameters.insert(("_count", String(request.count)), at: 0)
        return request
    }

    private func ignore(_ key: String, _ value: String, into request: inout SearchRequest, reason: String) throws(FHIRError) {
        if strict { throw .badRequest("\(reason): '\(key)'", code: .notSupported, expression: [key]) }
        request.ignoredParameters.append(key)
    }

    private func parseClause(key: String, value: String, resourceType: String, request: inout SearchRequest) throws(FHIRError) -> SearchClause? {
        let parts = key.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let name = parts[0]
        let modifier = parts.count > 1 ? parts[1] : nil
        guard !name.contains("."), let parameter = SearchRegistry.parameter(name, for: resourceType) else {
            try ignore(key, value, into: &request, reason: "unknown or unsupported search parameter")
            return nil
        }
        if let modifier, !parameter.modifiers.contains(modifier) {
            throw .badRequest("modifier ':\(modifier)' is not supported for parameter '\(name)'", code: .notSupported, expression: [key])
        }
        if modifier == "missing" {
            guard value == "true" || value == "false" else { throw .badRequest("\(key) must be true or false", code: .value, expression: [key]) }
            return SearchClause(parameter: parameter, modifier: modifier, values: [], missing: value == "true")
        }
        let rawValues = Self.splitValues(value).filter { !$0.isEmpty }
        guard !rawValues.isEmpty else {
            throw .badRequest("parameter '\(key)' has no value", code: .value, expression: [key])
        }
        var values: [SearchValue] = []
        for raw in rawValues {
            values.append(try parseValue(raw, parameter: parameter, key: key, modifier: modifier))
        }
        return SearchClause(parameter: parameter, modifier: modifier, values: values, missing: nil)
    }

    private func parseValue(_ raw: String, parameter: SearchParameterDefinition, key: String, modifier: String?) throws(FHIRError) -> SearchValue {
        switch parameter.type {
        case .string:
            return .string(raw)
        case .token:
            if let bar = raw.firstIndex(of: "|") {
                let system = String(raw[raw.startIndex..<bar])
                let code = String(raw[raw.index(after: bar)...])
                return .token(TokenValue(system: system, code: code.isEmpty ? nil : code))
            }
            return .token(TokenValue(system: nil, code: raw))
        case .date:
            var text = Substring(raw)
            var prefix = DatePrefix.eq
            if let first = text.first, first.isLetter, let candidate = DatePrefix(rawValue: String(text.prefix(2))) {
                prefix = candidate
                text = text.dropFirst(2)
            }
            guard let date = FHIRDateTime.parse(String(text)) else {
                throw .badRequest("'\(key)' has an invalid date; use a FHIR date, optionally prefixed (eq, ne, lt, gt, le, ge, sa, eb, ap)",
                                  code: .value, expression: [key])
            }
            return .date(DateValue(prefix: prefix, value: date))
        case .quantity:
            let parts = raw.split(separator: "|", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            var number = Substring(parts[0])
            var prefix = DatePrefix.eq
            if let first = number.first, first.isLetter, let candidate = DatePrefix(rawValue: String(number.prefix(2))) {
                prefix = candidate
                number = number.dropFirst(2)
            }
            guard number.range(of: "^-?[0-9]+(\\.[0-9]+)?([eE][+-]?[0-9]+)?$", options: .regularExpression) != nil else {
                throw .badRequest("'\(key)' must be [prefix]number[|system|code]", code: .value, expression: [key])
            }
            guard DecimalDomain.contains(number) else {
                throw .badRequest("'\(key)' is outside the numbers this server compares (at most \(DecimalDomain.maximumSignificantDigits) digits, magnitude 1e-120 to 1e120)",
                                  code: .value, expression: [key])
            }
            let system = parts.count > 1 && !parts[1].isEmpty ? parts[1] : nil
            let code = parts.count > 2 && !parts[2].isEmpty ? parts[2] : nil
            return .quantity(QuantityValue(prefix: prefix, number: String(number), system: system, code: code))
        case .reference:
            let typed = modifier.flatMap { parameter.targets.contains($0) ? $0 : nil }
            var reference = raw
            if reference.hasPrefix("http://") || reference.hasPrefix("https://") {
                guard reference.hasPrefix(baseURL + "/") else { return .foreignReference }
                reference = String(reference.dropFirst(baseURL.count + 1))
            }
            let segments = reference.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            if segments.count == 1 {
                return .reference(ReferenceValue(type: typed, id: segments[0]))
            }
            guard segments.count == 2 || (segments.count == 4 && segments[2] == "_history") else {
                throw .badRequest("'\(key)' is not a valid reference", code: .value, expression: [key])
            }
            guard parameter.targets.contains(segments[0]) else {
                throw .badRequest("'\(key)' must refer to \(parameter.targets.joined(separator: " or "))", code: .value, expression: [key])
            }
            if let typed, typed != segments[0] {
                throw .badRequest("'\(key)' names two different resource types", code: .value, expression: [key])
            }
            return .reference(ReferenceValue(type: segments[0], id: segments[1]))
        }
    }

    private func parseSort(_ value: String, resourceType: String) throws(FHIRError) -> [SortKey] {
        var keys: [SortKey] = []
        for part in value.split(separator: ",") {
            let descending = part.hasPrefix("-")
            let name = String(descending ? part.dropFirst() : part)
            guard let parameter = SearchRegistry.parameter(name, for: resourceType), parameter.sortable else {
                throw .badRequest("cannot sort \(resourceType) by '\(name)'", code: .notSupported, expression: ["_sort"])
            }
            keys.append(SortKey(parameter: name, descending: descending))
        }
        return keys
    }

    private func match(_ value: String, in definitions: [IncludeDefinition]) -> IncludeDefinition? {
        let parts = value.split(separator: ":").map(String.init)
        guard parts.count == 2 || parts.count == 3 else { return nil }
        return definitions.first { $0.source == parts[0] && $0.parameter == parts[1] && (parts.count == 2 || parts[2] == $0.target) }
    }

    /// Splits on commas that are not escaped with a backslash, and unescapes `\,`, `\|`, `\$`, `\\`.
    static func splitValues(_ value: String) -> [String] {
        var values: [String] = []
        var current = ""
        var escaped = false
        for character in value {
            if escaped {
                current.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "," {
                values.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        values.append(current)
        return values
    }

    static func isElementName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.properties.isAlphabetic else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)) }
    }
}

extension String {
    var trimmingSpaces: String {
        var text = Substring(self)
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return String(text)
    }
}
