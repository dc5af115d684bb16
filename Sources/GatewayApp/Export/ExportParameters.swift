import FHIRModels
import FHIRSearch
import GatewayAuth
import GatewayConfig
import HMSMapping

/// A kick-off request as the job keeps it: what to export, for whom, and with which rights.
struct ExportParameters: Codable, Sendable, Equatable {
    enum Level: Codable, Sendable, Equatable {
        case system
        case patient
        /// A hospital's registered patients (`Group/<hospital id>`).
        case group(String)
    }

    var level: Level
    /// The types exported, in output order.
    var types: [String]
    /// Epoch seconds: resources last updated at or after it (`_since`).
    var since: Int64?
    /// Epoch seconds of `_until`: resources last updated after it are left out (the transaction time caps it too).
    var until: Int64?
    /// `_typeFilter` queries by type (`code=...&date=...`), OR-combined within a type.
    var typeFilters: [String: [String]]
    /// Normalised Patient ids from `patient` (Patient- and Group-level exports).
    var patients: [String]?
    /// `_elements`: element names kept (besides `id` and `meta`), per type or for all (`*`).
    var elements: [String: [String]]?
    /// Problems ignored under `Prefer: handling=lenient`, reported in the manifest's `error` file.
    var ignored: [String]
    /// The rights of the starting token, applied to every page and checked again at download.
    var grant: TenantScope.Grant

    static let outputFormats: Set<String> = ["application/fhir+ndjson", "application/ndjson", "ndjson"]
    static let maximumPatients = 1000
    static let maximumTypeFilters = 50

    /// The exclusive upper bound of `lastUpdated` for a run reading as of `transactionTime` (whole seconds).
    func before(transactionTime: Int64) -> Int64 { min(transactionTime, until ?? transactionTime) + 1 }

    /// Reads a kick-off's parameters (query, or a `Parameters` body for POST) for a tenant serving
    /// `servedTypes` at `baseURL`.
    static func parse(level: Level, pairs: [(String, String)], servedTypes: [String], baseURL: String, scope: TenantScope, lenient: Bool,
                      now: Int64) throws(FHIRError) -> ExportParameters {
        var ignored: [String] = []
        func reject(_ message: String, _ expression: String) throws(FHIRError) {
            if lenient { ignored.append(message) } else { throw FHIRError.badRequest(message, code: .value, expression: [expression]) }
        }
        var requestedTypes: [String]?
        var since: Int64?
        var until: Int64?
        var filterTexts: [String] = []
        var patientReferences: [String] = []
        var elementTexts: [String] = []
        for (name, value) in pairs {
            switch name {
            case "_outputFormat":
                guard outputFormats.contains(value) else {
                    throw FHIRError.badRequest("_outputFormat '\(value.prefix(64))' is not supported; use application/fhir+ndjson", code: .notSupported,
                                               expression: ["_outputFormat"])
                }
            case "_type":
                requestedTypes = (requestedTypes ?? []) + value.split(separator: ",", omittingEmptySubsequences: false).map { String($0) }
            case "_since", "_until":
                guard let instant = instant(value) else {
                    throw FHIRError.badRequest("\(name) must be a FHIR instant such as 2026-01-01T00:00:00Z", code: .value, expression: [name])
                }
                guard instant <= now else { throw FHIRError.badRequest("\(name) is in the future", code: .value, expression: [name]) }
                if name == "_since" { since = instant } else { until = instant }
            case "_typeFilter":
                filterTexts += value.split(separator: ",").map { String($0) }
            case "patient":
                patientReferences.append(value)
            case "_elements":
                elementTexts += value.split(separator: ",").map { String($0) }
            case "_format":
                continue
            default:
                try reject("the parameter '\(name.prefix(64))' is not supported by this server's $export", name)
            }
        }
        if level == .system, !patientReferences.isEmpty {
            throw FHIRError.badRequest("'patient' applies to Patient- and Group-level exports only", code: .value, expression: ["patient"])
        }

        let compartmentOnly = level != .system
        let served = servedTypes.filter { TenantConfiguration.supportedResourceTypes.contains($0) }
        let policy = ScopePolicy(scope: scope.scope)
        var types: [String] = []
        if let requestedTypes {
            for type in requestedTypes {
                guard served.contains(type) else {
                    try reject("_type names '\(type.prefix(64))', which this tenant does not serve", "_type")
                    continue
                }
                if compartmentOnly, !AccessRestriction.compartmentTypes.contains(type) {
                    try reject("_type names \(type), which is outside the patient compartment of a Patient- or Group-level export", "_type")
                    continue
                }
                guard policy.decide(.search, resourceType: type, patient: scope.patient).isAllowed else {
                    throw FHIRError.forbidden("the token's scopes do not allow exporting \(type)")
                }
                if !types.contains(type) { types.append(type) }
            }
        } else {
            types = served.filter { type in
                (!compartmentOnly || AccessRestriction.compartmentTypes.contains(type))
                    && policy.decide(.search, resourceType: type, patient: scope.patient).isAllowed
            }
        }
        guard !types.isEmpty else { throw FHIRError.forbidden("the token's scopes allow exporting none of the requested types") }

        var typeFilters: [String: [String]] = [:]
        guard filterTexts.count <= maximumTypeFilters else {
            throw FHIRError.badRequest("at most \(maximumTypeFilters) _typeFilter queries are accepted", code: .tooCostly, expression: ["_typeFilter"])
        }
        for text in filterTexts {
            guard let question = text.firstIndex(of: "?") else {
                throw FHIRError.badRequest("each _typeFilter is <Type>?<query>", code: .value, expression: ["_typeFilter"])
            }
            let type = String(text[..<question])
            let query = String(text[text.index(after: question)...])
            guard types.contains(type) else {
                try reject("_typeFilter names '\(type.prefix(64))', which this export does not include", "_typeFilter")
                continue
            }
            _ = try searchRequest(type: type, query: query, baseURL: baseURL)
            typeFilters[type, default: []].append(query)
        }

        var patients: [String]?
        if !patientReferences.isEmpty {
            guard patientReferences.count <= maximumPatients else {
                throw FHIRError.badRequest("at most \(maximumPatients) patients per export", code: .tooCostly, expression: ["patient"])
            }
            var ids: [String] = []
            for reference in patientReferences {
                guard let local = LocalReference.parse(reference, baseURL: baseURL), local.type == "Patient",
                      let uuid = HMSIdentifier.normalizedUUID(local.id) else {
                    throw FHIRError.badRequest("'patient' must reference a Patient of this tenant (Patient/<id>)", code: .value, expression: ["patient"])
                }
                if !ids.contains(uuid) { ids.append(uuid) }
            }
            patients = ids
        }

        var elements: [String: [String]]?
        for text in elementTexts {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            let (type, element) = parts.count == 2 ? (parts[0], parts[1]) : ("*", parts[0])
            guard parts.count <= 2, isElementName(element), type == "*" || types.contains(type) else {
                throw FHIRError.badRequest("_elements takes element names, optionally prefixed by an exported type (Patient.name)", code: .value,
                                           expression: ["_elements"])
            }
            elements = elements ?? [:]
            elements?[type, default: []].append(element)
        }

        return ExportParameters(level: level, types: types, since: since, until: until, typeFilters: typeFilters,
                                patients: patients, elements: elements, ignored: ignored, grant: scope.grant)
    }

    /// A `_typeFilter` query as a search the store can run: search parameters only.
    static func searchRequest(type: String, query: String, baseURL: String) throws(FHIRError) -> SearchRequest {
        let pairs: [(String, String)]
        do { pairs = try QueryString.parse(query) } catch {
            throw FHIRError.badRequest("a _typeFilter query is not a valid query string", code: .value, expression: ["_typeFilter"])
        }
        let parser = SearchParser(defaultCount: 1, maximumCount: 1, strict: true, baseURL: baseURL)
        let request: SearchRequest
        do { request = try parser.parse(resourceType: type, parameters: pairs) } catch {
            throw FHIRError.badRequest("_typeFilter for \(type): \(error.issues.first?.diagnostics ?? "not a supported search")", code: .value,
                                       expression: ["_typeFilter"])
        }
        guard !request.clauses.isEmpty, request.clauses.count == pairs.count else {
            throw FHIRError.badRequest("_typeFilter queries take search parameters only (no _count, _sort, _include, _elements)", code: .value,
                                       expression: ["_typeFilter"])
        }
        return request
    }

    /// Epoch seconds of a FHIR instant (date, time and zone required).
    static func instant(_ text: String) -> Int64? {
        guard text.utf8.count <= 40, text.count >= 20, text.contains("T"),
              text.hasSuffix("Z") || text.dropFirst(19).contains("+") || text.dropFirst(19).contains("-"),
              let parsed = FHIRDateTime.parse(text) else { return nil }
        return parsed.lower
    }

    static func isElementName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, (1...64).contains(text.utf8.count), first.properties.isLowercase || first == "_" else { return false }
        return text.unicodeScalars.allSatisfy { ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || $0 == "_" }
    }
}
