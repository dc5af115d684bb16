import FHIRModels

/// Walks a JSON resource along the generated R4 definitions and records every structural problem.
///
/// Expressions are FHIRPath: `Observation.component[1].code`, `Observation.value.ofType(Quantity).unit`,
/// `Observation.value[x]` for problems of a choice element as a whole. A primitive's `_name` object is
/// reported at the primitive's own path (`Patient.birthDate.extension[0].url`).
struct ResourceWalker {
    /// Deeper nesting is reported instead of walked (the JSON parser already stops at 64 levels).
    static let maximumDepth = 100

    var issues: IssueCollector

    init(limit: Int) { issues = IssueCollector(limit: limit) }

    /// Validates a resource object of a supported type; `contained` adds the rules of contained resources.
    mutating func walkResource(_ object: JSONObject, type: String, path: String, contained: Bool, depth: Int) {
        guard let definition = TypeCatalog.types[type] else { return }
        if contained {
            checkContainedRules(object, path: path)
        }
        walkObject(object, definition: definition, path: path, isResource: true, depth: depth)
    }

    private mutating func walkObject(_ object: JSONObject, definition: TypeDefinition, path: String, isResource: Bool, depth: Int) {
        guard depth <= Self.maximumDepth else {
            issues.add(.structure, "Content is nested too deeply to validate", at: path)
            return
        }
        if object.isEmpty {
            issues.add(.structure, "Empty objects are not allowed: an element must have a value or children", at: path)
            return
        }
        var present = Set<Int>()
        var choiceKeys: [Int: Set<String>] = [:]
        for member in object.members {
            if isResource && member.key == "resourceType" { continue }
            let isExtensionObject = member.key.hasPrefix("_")
            let key = isExtensionObject ? String(member.key.dropFirst()) : member.key
            guard let match = definition.match(key) else {
                reportUnknown(member.key, in: definition, path: path)
                continue
            }
            let element = definition.elements[match.index]
            let type = definition.type(of: match)
            if isExtensionObject, !PrimitiveDefinition.acceptsExtensions(type) || key == "id" {
                issues.add(.structure, "'\(member.key)' is not allowed: '\(key)' is not a primitive element that can have extensions",
                           at: "\(path).\(member.key)")
                continue
            }
            present.insert(match.index)
            let elementPath: String
            if case .choice = match {
                choiceKeys[match.index, default: []].insert(key)
                elementPath = "\(path).\(element.name).ofType(\(type))"
            } else {
                elementPath = "\(path).\(element.name)"
            }
            if isExtensionObject {
                walkPrimitiveExtensions(member.value, values: object[key], element: element, path: elementPath, depth: depth)
            } else {
                walkMember(member.value, extensions: object["_" + key], element: element, type: type, path: elementPath, depth: depth)
            }
        }
        for (index, keys) in choiceKeys.sorted(by: { $0.key < $1.key }) where keys.count > 1 {
            let element = definition.elements[index]
            issues.add(.structure, "Only one of \(keys.sorted().joined(separator: ", ")) is allowed: \(element.displayName) has a single value",
                       at: "\(path).\(element.displayName)")
        }
        for (index, element) in definition.elements.enumerated() where element.min > 0 && !present.contains(index) {
            issues.add(.required, "Missing required element '\(element.displayName)' (minimum cardinality \(element.min))",
                       at: "\(path).\(element.displayName)")
        }
        if definition.name == "Extension" {
            checkExtensionContent(object, definition: definition, present: present, path: path)
        }
    }

    /// ext-1: an extension has either a value or nested extensions, not both and not neither.
    private mutating func checkExtensionContent(_ object: JSONObject, definition: TypeDefinition, present: Set<Int>, path: String) {
        let hasValue = definition.elements.indices.contains { definition.elements[$0].isChoice && present.contains($0) }
        let hasExtensions = object["extension"] != nil
        if hasValue == hasExtensions {
            issues.add(.invariant, "An extension must have either a value[x] or nested extensions, not both and not neither (ext-1)", at: path)
        }
    }

    private mutating func reportUnknown(_ key: String, in definition: TypeDefinition, path: String) {
        let bare = key.hasPrefix("_") ? String(key.dropFirst()) : key
        if let choice = definition.choiceElement(prefixing: bare) {
            issues.add(.structure, "'\(key)' is not a valid type for \(choice.displayName) of \(definition.name)", at: "\(path).\(key)")
        } else {
            issues.add(.structure, "Unknown element '\(key)' in \(definition.name)", at: "\(path).\(key)")
        }
    }

    /// A member's value: an array for repeating elements, a single value otherwise.
    private mutating func walkMember(_ value: JSON, extensions: JSON?, element: ElementSpec, type: String, path: String, depth: Int) {
        guard element.isArray else {
            if case .array = value {
                issues.add(.structure, "'\(element.name)' must be a single value, not an array (maximum cardinality 1)", at: path)
            } else {
                walkValue(value, element: element, type: type, path: path, depth: depth)
            }
            return
        }
        guard case .array(let items) = value else {
            issues.add(.structure, "'\(element.name)' must be a JSON array (it repeats)", at: path)
            return
        }
        if items.isEmpty {
            issues.add(.structure, "Empty arrays are not allowed", at: path)
        }
        let extensionItems = extensions?.arrayValue
        for (index, item) in items.enumerated() {
            let itemPath = "\(path)[\(index)]"
            if item == .null {
                // A repeating primitive may have null values where `_name` has the extensions instead.
                let hasExtensions = extensionItems.map { index < $0.count && $0[index].objectValue != nil } ?? false
                if !(hasExtensions && PrimitiveDefinition.acceptsExtensions(type)) {
                    issues.add(.structure, "null is not allowed here", at: itemPath)
                }
                continue
            }
            walkValue(item, element: element, type: type, path: itemPath, depth: depth)
        }
    }

    /// One value of an element's type.
    private mutating func walkValue(_ value: JSON, element: ElementSpec, type: String, path: String, depth: Int) {
        if value == .null {
            issues.add(.structure, "null is not allowed here", at: path)
            return
        }
        if R4Definitions.primitives[type] != nil {
            if let problem = PrimitiveFormat.problem(value, type: type) {
                issues.add(problem.code, problem.message, at: path)
            } else if !element.codes.isEmpty, case .string(let code) = value, !element.codes.contains(code) {
                issues.add(.codeInvalid, "The code is not one of the codes of the required binding of \(element.name)", at: path)
            }
            return
        }
        guard case .object(let object) = value else {
            issues.add(.structure, "'\(element.name)' must be a JSON object (\(type))", at: path)
            return
        }
        if type == "Resource" {
            walkEmbeddedResource(object, contained: element.name == "contained", path: path, depth: depth)
        } else if let definition = TypeCatalog.types[type] {
            walkObject(object, definition: definition, path: path, isResource: false, depth: depth + 1)
        }
    }

    /// `_name`: the id and extensions of a primitive, aligned with its values when it repeats.
    private mutating func walkPrimitiveExtensions(_ value: JSON, values: JSON?, element: ElementSpec, path: String, depth: Int) {
        guard let definition = TypeCatalog.types["Element"] else { return }
        guard element.isArray else {
            guard case .object(let object) = value else {
                issues.add(.structure, "'_\(element.name)' must be a JSON object with id and/or extension", at: path)
                return
            }
            walkObject(object, definition: definition, path: path, isResource: false, depth: depth + 1)
            return
        }
        guard case .array(let items) = value else {
            issues.add(.structure, "'_\(element.name)' must be a JSON array aligned with '\(element.name)'", at: path)
            return
        }
        let valueItems = values?.arrayValue
        if items.isEmpty {
            issues.add(.structure, "Empty arrays are not allowed", at: path)
        } else if let valueItems, valueItems.count != items.count {
            issues.add(.structure, "'_\(element.name)' must have as many entries as '\(element.name)'", at: path)
        }
        for (index, item) in items.enumerated() {
            let itemPath = "\(path)[\(index)]"
            switch item {
            case .null:
                // A null paired with a null value is reported with the values; here only nulls beyond them.
                if index >= valueItems?.count ?? 0 {
                    issues.add(.structure, "null is not allowed here: neither a value nor extensions", at: itemPath)
                }
            case .object(let object):
                walkObject(object, definition: definition, path: itemPath, isResource: false, depth: depth + 1)
            default:
                issues.add(.structure, "'_\(element.name)' entries must be JSON objects or null", at: itemPath)
            }
        }
    }

    /// A resource inside a resource: `contained` is validated in full, Bundle entries by the caller.
    private mutating func walkEmbeddedResource(_ object: JSONObject, contained: Bool, path: String, depth: Int) {
        guard let typeValue = object["resourceType"] else {
            issues.add(.required, "A resource must have a resourceType", at: "\(path).resourceType")
            return
        }
        guard case .string(let type) = typeValue, R4Definitions.resourceTypeNames.contains(type) else {
            issues.add(.structure, "resourceType is not an R4 resource type", at: "\(path).resourceType")
            return
        }
        guard contained else { return }
        if TypeCatalog.supportedResourceTypes.contains(type) {
            walkResource(object, type: type, path: path, contained: true, depth: depth + 1)
        } else {
            checkContainedRules(object, path: path)
        }
    }

    /// Contained resources need an id (to be referenced) and cannot contain resources themselves (dom-2).
    private mutating func checkContainedRules(_ object: JSONObject, path: String) {
        if object["id"] == nil {
            issues.add(.required, "A contained resource must have an id", at: "\(path).id")
        }
        if object["contained"] != nil {
            issues.add(.invariant, "A contained resource cannot contain other resources (dom-2)", at: "\(path).contained")
        }
    }
}
