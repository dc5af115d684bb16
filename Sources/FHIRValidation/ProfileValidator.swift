import FHIRModels

/// Checks a resource against the differential of one of the project's StructureDefinitions:
/// cardinality, `patternCodeableConcept` (on a repeating element: at least one repetition
/// matches), required bindings whose codes the profile lists, and reference target types.
/// `mustSupport` is never an error. Problems are `processing` issues (HTTP 422).
public struct ProfileValidator: Sendable {
    /// Extension on `binding` listing the codes of a required binding.
    public static let bindingCodesExtension = "https://fhir-gateway.dev/StructureDefinition/binding-codes"

    struct Rule: Sendable {
        let path: [String]
        let display: String
        let min: Int
        let max: Int?
        let pattern: JSON?
        let codes: Set<String>?
        let targetTypes: Set<String>?
    }

    public let url: String
    public let type: String
    let title: String
    let rules: [Rule]

    public struct InvalidProfile: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    public init(structureDefinition: JSON) throws {
        guard structureDefinition["resourceType"]?.stringValue == "StructureDefinition", let url = structureDefinition["url"]?.stringValue,
              let type = structureDefinition["type"]?.stringValue, let elements = structureDefinition["differential"]?["element"]?.arrayValue else {
            throw InvalidProfile(description: "not a StructureDefinition with url, type and differential")
        }
        self.url = url
        self.type = type
        self.title = structureDefinition["title"]?.stringValue ?? url
        var rules: [Rule] = []
        for element in elements {
            guard let path = element["path"]?.stringValue, path.hasPrefix(type + "."), element["sliceName"] == nil else { continue }
            let segments = path.split(separator: ".").dropFirst().map(String.init)
            var min = 0
            if case .number(let text)? = element["min"] { min = Int(text) ?? 0 }
            let max: Int? = element["max"]?.stringValue.flatMap { $0 == "*" ? nil : Int($0) }
            var codes: Set<String>?
            if element["binding"]?["strength"]?.stringValue == "required" {
                let listed = (element["binding"]?["extension"]?.arrayValue ?? [])
                    .filter { $0["url"]?.stringValue == Self.bindingCodesExtension }.compactMap { $0["valueCode"]?.stringValue }
                if !listed.isEmpty { codes = Set(listed) }
            }
            var targets: Set<String>?
            let profiles = (element["type"]?.arrayValue ?? []).flatMap { $0["targetProfile"]?.arrayValue ?? [] }.compactMap(\.stringValue)
            if !profiles.isEmpty { targets = Set(profiles.map(Self.resourceType(ofProfile:))) }
            rules.append(Rule(path: segments, display: path, min: min, max: max, pattern: element["patternCodeableConcept"],
                              codes: codes, targetTypes: targets))
        }
        self.rules = rules
    }

    /// The resource type a profile URL constrains (`.../us-core-patient` is a Patient).
    static func resourceType(ofProfile url: String) -> String {
        let name = String(url.split(separator: "/").last ?? "")
        let known = ["us-core-patient": "Patient", "us-core-practitioner": "Practitioner", "us-core-organization": "Organization",
                     "us-core-encounter": "Encounter", "us-core-observation-lab": "Observation", "us-core-diagnosticreport-lab": "DiagnosticReport",
                     "us-core-specimen": "Specimen", "us-core-practitionerrole": "PractitionerRole", "us-core-careteam": "CareTeam",
                     "us-core-device": "Device", "us-core-location": "Location"]
        return known[name] ?? name
    }

    public func validate(_ resource: JSON) -> [OutcomeIssue] {
        var issues: [OutcomeIssue] = []
        let profileName = title
        for rule in rules {
            for parent in Self.nodes(resource, path: rule.path.dropLast()) {
                let children = Self.children(parent, name: rule.path.last ?? "")
                if children.count < rule.min {
                    issues.append(OutcomeIssue(code: .processing, diagnostics: "\(rule.display) is required by \(profileName)", expression: [rule.display]))
                }
                if let max = rule.max, children.count > max {
                    issues.append(OutcomeIssue(code: .processing, diagnostics: "\(rule.display) allows at most \(max) by \(profileName)", expression: [rule.display]))
                }
                if let pattern = rule.pattern, !children.isEmpty, !children.contains(where: { Self.matches($0, pattern: pattern) }) {
                    let wanted = (pattern["coding"]?.arrayValue ?? []).map { "\($0["system"]?.stringValue ?? "")|\($0["code"]?.stringValue ?? "")" }
                    issues.append(OutcomeIssue(code: .processing, diagnostics: "\(rule.display) must include the coding \(wanted.joined(separator: ", ")) (\(profileName))",
                                               expression: [rule.display]))
                }
                if let codes = rule.codes {
                    for child in children where !Self.codes(of: child).contains(where: codes.contains) {
                        issues.append(OutcomeIssue(code: .processing, diagnostics: "\(rule.display) has a code outside the required value set (\(profileName))",
                                                   expression: [rule.display]))
                    }
                }
                if let targets = rule.targetTypes {
                    for child in children {
                        guard let reference = child["reference"]?.stringValue, !reference.hasPrefix("#"), !reference.contains(":") else { continue }
                        let target = String(reference.prefix { $0 != "/" })
                        if !targets.contains(target) {
                            issues.append(OutcomeIssue(code: .processing, diagnostics: "\(rule.display) must refer to \(targets.sorted().joined(separator: " or ")) (\(profileName))",
                                                       expression: [rule.display]))
                        }
                    }
                }
            }
        }
        return issues
    }

    static func nodes(_ root: JSON, path: ArraySlice<String>) -> [JSON] {
        var current = [root]
        for segment in path { current = current.flatMap { children($0, name: segment) } }
        return current
    }

    /// The values of element `name` (arrays flattened; `value[x]` matches every `valueXxx`).
    static func children(_ node: JSON, name: String) -> [JSON] {
        guard case .object(let object) = node else { return [] }
        var values: [JSON] = []
        if name.hasSuffix("[x]") {
            let stem = String(name.dropLast(3))
            for member in object.members where member.key.hasPrefix(stem) && member.key.dropFirst(stem.count).first?.isUppercase == true {
                values.append(member.value)
            }
        } else if let value = object[name] {
            values.append(value)
        }
        return values.flatMap { value -> [JSON] in
            if case .array(let items) = value { return items }
            return [value]
        }
    }

    /// A CodeableConcept matches a pattern if every pattern coding appears among its codings.
    static func matches(_ concept: JSON, pattern: JSON) -> Bool {
        let codings = concept["coding"]?.arrayValue ?? []
        return (pattern["coding"]?.arrayValue ?? []).allSatisfy { wanted in
            codings.contains { coding in
                (wanted["system"] == nil || coding["system"] == wanted["system"]) && (wanted["code"] == nil || coding["code"] == wanted["code"])
            }
        }
    }

    /// Codes carried by a code, Coding or CodeableConcept value.
    static func codes(of value: JSON) -> [String] {
        if let code = value.stringValue { return [code] }
        if let code = value["code"]?.stringValue { return [code] }
        return (value["coding"]?.arrayValue ?? []).compactMap { $0["code"]?.stringValue }
    }
}
