/// One element of an R4 type, as generated into `R4Definitions` from the official definitions.
///
/// A choice element (`value[x]`) has the name without `[x]` and several types; its JSON names are the
/// name followed by the type with an upper-case first letter (`valueQuantity`, `valueDateTime`).
struct ElementSpec: Sendable {
    /// The JSON member name (for a choice element, without the `[x]`).
    let name: String
    /// The allowed type: one for an ordinary element, several for a choice element. Primitive types are
    /// lower-case (`dateTime`), complex types upper-case (`Quantity`), backbone elements are named by
    /// path (`Observation.component`) and `Resource` stands for any resource.
    let types: [String]
    let isChoice: Bool
    /// R4 represents elements with a maximum cardinality above one as JSON arrays, all others as single values.
    let isArray: Bool
    /// Minimum cardinality.
    let min: Int
    /// The codes of a required binding the schema enumerates; empty when the element has none.
    let codes: Set<String>

    /// An element with maximum cardinality 1.
    static func one(_ name: String, _ type: String, codes: [String] = [], min: Int = 0) -> ElementSpec {
        ElementSpec(name: name, types: [type], isChoice: false, isArray: false, min: min, codes: Set(codes))
    }

    /// A repeating element (maximum cardinality above 1).
    static func many(_ name: String, _ type: String, codes: [String] = [], min: Int = 0) -> ElementSpec {
        ElementSpec(name: name, types: [type], isChoice: false, isArray: true, min: min, codes: Set(codes))
    }

    /// A choice element `name[x]` (never repeating in R4).
    static func choice(_ name: String, _ types: [String], min: Int = 0) -> ElementSpec {
        ElementSpec(name: name, types: types, isChoice: true, isArray: false, min: min, codes: [])
    }

    /// The element's name as FHIRPath and the R4 definitions write it (`value[x]` for a choice).
    var displayName: String { isChoice ? name + "[x]" : name }

    /// The JSON member name of one of a choice element's types (`value` + `dateTime` → `valueDateTime`).
    func choiceKey(for type: String) -> String {
        guard let first = type.first else { return name }
        return name + first.uppercased() + type.dropFirst()
    }
}
