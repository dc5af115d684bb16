/// The JSON representation of an R4 primitive type, as generated into `R4Definitions.primitives`.
struct PrimitiveDefinition: Sendable {
    /// The JSON kind a primitive's value must have.
    enum JSONKind: Sendable {
        case string, number, boolean
    }

    let json: JSONKind
    /// The primitive's regex from the R4 definitions (matched against the whole value); nil for `xhtml`.
    ///
    /// `PrimitiveFormat` implements these grammars directly (Swift `Regex` is neither `Sendable` nor fast
    /// enough to compile per request); the tests check it against these patterns.
    let pattern: String?

    /// Whether the type is a primitive that can carry `_name` extensions in JSON (`xhtml` cannot).
    static func acceptsExtensions(_ type: String) -> Bool {
        type != "xhtml" && R4Definitions.primitives[type] != nil
    }
}
