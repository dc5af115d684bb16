import FHIRModels
import FHIRSearch

/// Structural rules on references that hold before anything is looked up (400 when broken):
/// - dom-3: every contained resource is referenced from elsewhere in the resource (or refers to
///   its container with `#`);
/// - a `Reference.type` agrees with the type its literal `reference` names.
enum ReferenceRules {
    static func issues(in resource: JSON, type: String, baseURL: String) -> [OutcomeIssue] {
        var issues: [OutcomeIssue] = []
        let contained = resource["contained"]?.arrayValue ?? []
        let containedTypes = Dictionary(contained.compactMap { inner in inner["id"]?.stringValue.map { ($0, inner["resourceType"]?.stringValue ?? "") } },
                                        uniquingKeysWith: { first, _ in first })
        var referenced = Set<String>()
        walk(resource, path: type) { object, path in
            guard let text = object["reference"]?.stringValue else { return }
            if text.hasPrefix("#") { referenced.insert(String(text.dropFirst())) }
            guard let declared = object["type"]?.stringValue else { return }
            let named: String?
            if text.hasPrefix("#") {
                named = containedTypes[String(text.dropFirst())]
            } else if let local = LocalReference.parse(text, baseURL: baseURL) {
                named = local.type
            } else {
                // An absolute URL of another server: its second-to-last segment names the type when it follows REST.
                let segments = text.split(separator: "/")
                named = segments.count >= 2 ? String(segments[segments.count - 2]) : nil
            }
            if let named, !named.isEmpty, named != declared {
                issues.append(OutcomeIssue(code: .invalid, diagnostics: "Reference.type '\(declared)' contradicts the reference, which names a \(named)",
                                           expression: [path + ".type"]))
            }
        }
        for (index, inner) in contained.enumerated() {
            guard let id = inner["id"]?.stringValue else {
                issues.append(OutcomeIssue(code: .required, diagnostics: "a contained resource needs an id", expression: ["\(type).contained[\(index)].id"]))
                continue
            }
            var refersToContainer = false
            walk(inner, path: "") { object, _ in if object["reference"]?.stringValue == "#" { refersToContainer = true } }
            if !referenced.contains(id) && !refersToContainer {
                issues.append(OutcomeIssue(code: .invariant, diagnostics: "dom-3: the contained resource '#\(id)' is not referenced from the resource",
                                           expression: ["\(type).contained[\(index)]"]))
            }
        }
        return issues
    }

    /// Calls `visit` for every object in `value` (Reference or not), with its FHIRPath-like location.
    private static func walk(_ value: JSON, path: String, _ visit: (JSONObject, String) -> Void) {
        switch value {
        case .object(let object):
            visit(object, path)
            for member in object.members { walk(member.value, path: path.isEmpty ? member.key : "\(path).\(member.key)", visit) }
        case .array(let items):
            for (index, item) in items.enumerated() { walk(item, path: "\(path)[\(index)]", visit) }
        default:
            break
        }
    }
}
