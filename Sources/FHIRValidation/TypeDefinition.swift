/// The elements of one type, indexed by the JSON member names that may carry them.
struct TypeDefinition: Sendable {
    /// How a JSON member name resolves to an element.
    enum Match: Sendable {
        /// An ordinary element, by index into `elements`.
        case element(Int)
        /// One type of a choice element, by index into `elements`.
        case choice(Int, type: String)

        var index: Int {
            switch self {
            case .element(let index), .choice(let index, _): index
            }
        }
    }

    let name: String
    let elements: [ElementSpec]
    private let members: [String: Match]

    init(name: String, elements: [ElementSpec]) {
        self.name = name
        self.elements = elements
        var members: [String: Match] = [:]
        for (index, element) in elements.enumerated() {
            if element.isChoice {
                for type in element.types { members[element.choiceKey(for: type)] = .choice(index, type: type) }
            } else {
                members[element.name] = .element(index)
            }
        }
        self.members = members
    }

    /// The element a JSON member name (without any leading `_`) stands for.
    func match(_ key: String) -> Match? { members[key] }

    /// The choice element whose name `key` starts with, followed by an upper-case letter (`valueFoo`):
    /// a choice element written with a type it does not allow.
    func choiceElement(prefixing key: String) -> ElementSpec? {
        elements.first { element in
            guard element.isChoice, key.hasPrefix(element.name) else { return false }
            return key.dropFirst(element.name.count).first?.isUppercase == true
        }
    }

    /// The element's type for a match: the choice's type, or the element's only type.
    func type(of match: Match) -> String {
        switch match {
        case .element(let index): elements[index].types.first ?? ""
        case .choice(_, let type): type
        }
    }
}

/// All generated type definitions, indexed once on first use.
enum TypeCatalog {
    static let types: [String: TypeDefinition] = {
        var types: [String: TypeDefinition] = [:]
        for (name, elements) in R4Definitions.types { types[name] = TypeDefinition(name: name, elements: elements) }
        return types
    }()

    static let supportedResourceTypes = Set(R4Definitions.supportedResourceTypes)
}
