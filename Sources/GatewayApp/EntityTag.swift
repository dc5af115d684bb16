/// The gateway's ETags are weak version numbers: `W/"3"`. Tags are opaque (RFC 9110 §8.8.3.2):
/// they are compared as written, so `W/"01"` or `W/"+2"` name no version.
enum EntityTag: Equatable {
    /// A tag the gateway issues, naming this version.
    case version(Int)
    /// `*`: any current version.
    case any
    /// A well-formed tag the gateway never issues: it matches nothing.
    case other

    /// Parses one `If-Match` value: `W/"3"`, `"3"` or `*` (a list names several tags and is not
    /// supported for updates). Nil when it is not a well-formed entity tag (400).
    static func parse(_ text: String) -> EntityTag? {
        var value = Substring(text)
        while let first = value.first, first == " " || first == "\t" { value = value.dropFirst() }
        while let last = value.last, last == " " || last == "\t" { value = value.dropLast() }
        if value == "*" { return .any }
        if value.hasPrefix("W/") { value = value.dropFirst(2) }
        guard value.count >= 2, value.first == "\"", value.last == "\"" else { return nil }
        let opaque = value.dropFirst().dropLast()
        // etagc: %x21 / %x23-7E / obs-text
        guard opaque.utf8.allSatisfy({ $0 == 0x21 || (0x23...0x7E).contains($0) || $0 >= 0x80 }) else { return nil }
        return version(opaque).map(EntityTag.version) ?? .other
    }

    /// The version a path segment or tag content names: digits as the gateway writes them (no sign,
    /// no leading zero, at most nine digits); nil for anything else.
    static func version(_ text: some StringProtocol) -> Int? {
        guard (1...9).contains(text.utf8.count), text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              text == "0" || text.first != "0" else { return nil }
        return Int(text)
    }
}
