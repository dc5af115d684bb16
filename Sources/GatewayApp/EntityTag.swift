/// The gateway's ETags are weak version numbers: `W/"3"`.
enum EntityTag {
    /// The version an `If-Match` value names: `W/"3"`, `"3"` or `3`; nil for anything else
    /// (lists, `*`, non-digits, values too large to be a version).
    static func version(_ text: String) -> Int? {
        var value = Substring(text)
        while let first = value.first, first == " " || first == "\t" { value = value.dropFirst() }
        while let last = value.last, last == " " || last == "\t" { value = value.dropLast() }
        if value.hasPrefix("W/") { value = value.dropFirst(2) }
        if value.count >= 2, value.first == "\"", value.last == "\"" { value = value.dropFirst().dropLast() }
        guard (1...9).contains(value.utf8.count), value.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return Int(value)
    }
}
