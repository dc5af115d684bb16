/// `Prefer` (RFC 7240): preferences separated by commas, across any number of header lines; a
/// name is case-insensitive, its value may be a quoted string, parameters after `;` are allowed
/// and ignored here, and the first occurrence of a preference wins.
struct PreferHeader: Equatable {
    /// Lower-cased preference names to their values ("" when a preference has none).
    let preferences: [String: String]

    init(_ lines: [String]) {
        var found: [String: String] = [:]
        for line in lines {
            for item in Self.split(line, on: ",") {
                let preference = Self.split(item, on: ";").first ?? ""
                let parts = preference.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let name = parts[0].trimmingCharacters(in: " \t").lowercased()
                guard !name.isEmpty, found[name] == nil else { continue }
                var value = parts.count > 1 ? parts[1].trimmingCharacters(in: " \t") : ""
                if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                    value = String(value.dropFirst().dropLast()).replacingOccurrences(of: "\\\"", with: "\"").replacingOccurrences(of: "\\\\", with: "\\")
                }
                found[name] = value
            }
        }
        preferences = found
    }

    subscript(name: String) -> String? { preferences[name.lowercased()] }

    /// `handling=strict`; lenient is the default.
    var isStrict: Bool { self["handling"] == "strict" }

    /// Splits on `separator` outside quoted strings.
    static func split(_ text: some StringProtocol, on separator: Character) -> [String] {
        var parts: [String] = []
        var current = ""
        var quoted = false
        var escaped = false
        for character in text {
            if escaped {
                escaped = false
            } else if character == "\\" && quoted {
                escaped = true
            } else if character == "\"" {
                quoted.toggle()
            } else if character == separator && !quoted {
                parts.append(current)
                current = ""
                continue
            }
            current.append(character)
        }
        parts.append(current)
        return parts
    }
}

private extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        var text = Substring(self)
        while let first = text.first, set.contains(first) { text = text.dropFirst() }
        while let last = text.last, set.contains(last) { text = text.dropLast() }
        return String(text)
    }
}
