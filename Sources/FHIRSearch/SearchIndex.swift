import FHIRModels

/// Search columns of a posted resource, extracted once at write time.
public struct SearchIndex: Sendable, Equatable {
    public struct Token: Sendable, Equatable {
        public var parameter: String
        public var system: String
        public var code: String
    }

    public var patientID: String?
    public var status: String?
    /// First and last second of `effective[x]` (epoch seconds); `end` nil for an open period.
    public var effectiveStart: Int64?
    public var effectiveEnd: Int64?
    public var valueQuantity: String?
    public var valueSystem: String?
    public var valueCode: String?
    public var tokens: [Token] = []

    /// Extracts the columns the search registry declares for Observation and DiagnosticReport.
    /// References are indexed as `Type/id` whatever local form was posted (`baseURL` is the tenant's).
    public static func extract(from resource: JSON, baseURL: String?) -> SearchIndex {
        var index = SearchIndex()
        if let text = resource["subject"]?["reference"]?.stringValue, let reference = LocalReference.parse(text, baseURL: baseURL),
           reference.type == "Patient" {
            index.patientID = reference.id
        }
        index.status = resource["status"]?.stringValue
        if let instant = (resource["effectiveDateTime"] ?? resource["effectiveInstant"])?.stringValue, let range = FHIRDateTime.parse(instant) {
            index.effectiveStart = range.lower
            index.effectiveEnd = range.upper - 1
        } else if let period = resource["effectivePeriod"] {
            index.effectiveStart = period["start"]?.stringValue.flatMap(FHIRDateTime.parse)?.lower
            index.effectiveEnd = period["end"]?.stringValue.flatMap(FHIRDateTime.parse).map { $0.upper - 1 }
        }
        if let quantity = resource["valueQuantity"], case .number(let value)? = quantity["value"] {
            index.valueQuantity = value
            index.valueSystem = quantity["system"]?.stringValue
            index.valueCode = quantity["code"]?.stringValue ?? quantity["unit"]?.stringValue
        }
        for concept in resource["category"]?.arrayValue ?? [] { index.addCodings(concept, as: "category") }
        if let code = resource["code"] { index.addCodings(code, as: "code") }
        for identifier in resource["identifier"]?.arrayValue ?? [] {
            if let value = identifier["value"]?.stringValue {
                index.tokens.append(Token(parameter: "identifier", system: identifier["system"]?.stringValue ?? "", code: value))
            }
        }
        for (element, parameter) in [("result", "result"), ("performer", "performer"), ("encounter", "encounter"), ("specimen", "specimen")] {
            let references: [JSON]
            switch resource[element] {
            case .array(let items)?: references = items
            case let single?: references = [single]
            case nil: references = []
            }
            for reference in references {
                if let text = reference["reference"]?.stringValue {
                    let local = LocalReference.parse(text, baseURL: baseURL)?.relative ?? text
                    index.tokens.append(Token(parameter: parameter, system: "", code: local))
                }
            }
        }
        return index
    }

    private mutating func addCodings(_ concept: JSON, as parameter: String) {
        for coding in concept["coding"]?.arrayValue ?? [] {
            if let code = coding["code"]?.stringValue {
                tokens.append(Token(parameter: parameter, system: coding["system"]?.stringValue ?? "", code: code))
            }
        }
    }
}
