import FHIRModels

/// Checks primitive values: their JSON kind and the lexical grammar of their R4 type.
///
/// The grammars are those of the generated regex table (`R4Definitions.primitives`), implemented directly,
/// with `\s` read as ASCII whitespace (as Java, the reference validator's language, reads it). On top of the
/// regexes it checks what they cannot: calendar dates, 32-bit integer ranges, control characters in strings
/// and the base64 padding. Diagnostics never repeat the value (it may be PHI).
enum PrimitiveFormat {
    /// Why a value is not acceptable.
    struct Problem: Sendable, Equatable {
        let code: OutcomeIssue.Code
        let message: String
    }

    /// FHIR strings are limited to 1 MB.
    static let maximumStringBytes = 1024 * 1024

    /// The problem with a non-null JSON value of a primitive type, or nil if it is valid.
    static func problem(_ value: JSON, type: String) -> Problem? {
        guard let definition = R4Definitions.primitives[type] else { return nil }
        switch (definition.json, value) {
        case (.boolean, .bool):
            return nil
        case (.number, .number(let text)):
            return numberProblem(text, type: type)
        case (.string, .string(let text)):
            if text.isEmpty { return Problem(code: .value, message: "Empty strings are not allowed in FHIR JSON (\(type))") }
            if type == "xhtml" { return XHTMLFormat.problem(text).map { Problem(code: .value, message: $0) } }
            return stringProblem(text, type: type)
        case (.boolean, _):
            return Problem(code: .structure, message: "A boolean must be the JSON literal true or false")
        case (.number, _):
            return Problem(code: .structure, message: "A \(type) must be a JSON number")
        case (.string, _):
            return Problem(code: .structure, message: "A \(type) must be a JSON string")
        }
    }

    /// Whether `lexical` (a string's text or a number's written form) matches the grammar of `type`;
    /// the lexical part only, equivalent to the type's regex.
    static func matchesGrammar(_ lexical: String, type: String) -> Bool {
        let bytes = Array(lexical.utf8)
        switch type {
        case "boolean": return lexical == "true" || lexical == "false"
        case "decimal": return NumberGrammar.isDecimal(bytes)
        case "integer": return NumberGrammar.isInteger(bytes)
        case "positiveInt": return NumberGrammar.isDigits(bytes, allowZero: false)
        case "unsignedInt": return NumberGrammar.isDigits(bytes, allowZero: true)
        case "string", "markdown": return !bytes.isEmpty && !bytes.contains { $0 == 0x0B || $0 == 0x0C }
        case "code": return isCode(bytes)
        case "id": return (1...64).contains(bytes.count) && bytes.allSatisfy(isIdCharacter)
        case "uri", "url", "canonical": return !bytes.contains(where: isASCIIWhitespace)
        case "oid": return isOID(bytes)
        case "uuid": return isUUID(bytes)
        case "base64Binary": return isBase64(bytes)
        case "date": return TemporalGrammar.date(bytes) != nil
        case "dateTime": return TemporalGrammar.dateTime(bytes) != nil
        case "instant": return TemporalGrammar.instant(bytes) != nil
        case "time": return TemporalGrammar.time(bytes)
        default: return true
        }
    }

    private static func numberProblem(_ text: String, type: String) -> Problem? {
        guard matchesGrammar(text, type: type) else {
            switch type {
            case "integer", "positiveInt", "unsignedInt":
                let whole = NumberGrammar.isInteger(Array(text.utf8))
                let expected = type == "positiveInt" ? "greater than zero" : type == "unsignedInt" ? "zero or more" : "whole"
                let detail = whole ? "must be \(expected)" : "must be a whole number without fraction or exponent"
                return Problem(code: .value, message: "Invalid \(type): the number \(detail)")
            default:
                return Problem(code: .value, message: "Invalid \(type): not a valid JSON number")
            }
        }
        if type == "decimal", !DecimalDomain.contains(text) {
            return Problem(code: .value, message: "Invalid decimal: more than \(DecimalDomain.maximumSignificantDigits) significant digits, or a magnitude outside 1e-120 to 1e120")
        }
        if type != "decimal", Int32(text) == nil {
            return Problem(code: .value, message: "Invalid \(type): the number is outside the 32-bit range")
        }
        return nil
    }

    private static func stringProblem(_ text: String, type: String) -> Problem? {
        // No FHIR string type holds NUL or other control characters (and PostgreSQL text cannot hold NUL).
        if text.utf8.contains(where: { $0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }) {
            return Problem(code: .value, message: "Invalid \(type): control characters other than tab, CR and LF are not allowed")
        }
        guard matchesGrammar(text, type: type) else {
            return Problem(code: .value, message: "Invalid \(type): \(description(of: type))")
        }
        switch type {
        case "string", "markdown":
            if text.utf8.count > maximumStringBytes {
                return Problem(code: .value, message: "Invalid \(type): longer than 1 MB")
            }
        case "date", "dateTime", "instant":
            if let date = TemporalGrammar.dateFields(Array(text.utf8)), !TemporalGrammar.isCalendarDate(date) {
                return Problem(code: .value, message: "Invalid \(type): the day does not exist in that month")
            }
        default:
            break
        }
        return nil
    }

    /// What a valid value of `type` looks like, for diagnostics.
    static func description(of type: String) -> String {
        switch type {
        case "code": return "must be non-empty with no leading, trailing or repeated whitespace"
        case "id": return "must be 1 to 64 characters of A-Z, a-z, 0-9, '-' and '.'"
        case "uri", "url", "canonical": return "must not contain whitespace"
        case "oid": return "must be urn:oid: followed by a dotted OID"
        case "uuid": return "must be urn:uuid: followed by a lower-case UUID"
        case "base64Binary": return "must be base64 encoded"
        case "date": return "must be YYYY, YYYY-MM or YYYY-MM-DD"
        case "dateTime": return "must be YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss(.sss) with a time zone"
        case "instant": return "must be YYYY-MM-DDThh:mm:ss(.sss) with a time zone"
        case "time": return "must be hh:mm:ss(.sss)"
        case "string", "markdown": return "contains characters that are not allowed"
        default: return "not a valid value"
        }
    }

    static func isASCIIWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0D).contains(byte)
    }

    private static func isIdCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."):
            true
        default:
            false
        }
    }

    /// `[^\s]+(\s[^\s]+)*`: no leading, trailing or consecutive whitespace.
    private static func isCode(_ bytes: [UInt8]) -> Bool {
        guard let first = bytes.first, let last = bytes.last,
              !isASCIIWhitespace(first), !isASCIIWhitespace(last) else { return false }
        for index in bytes.indices.dropFirst() where isASCIIWhitespace(bytes[index]) && isASCIIWhitespace(bytes[index - 1]) {
            return false
        }
        return true
    }

    /// `urn:oid:[0-2](\.(0|[1-9][0-9]*))+`
    private static func isOID(_ bytes: [UInt8]) -> Bool {
        let prefix = Array("urn:oid:".utf8)
        guard bytes.count > prefix.count + 2, Array(bytes.prefix(prefix.count)) == prefix else { return false }
        let arcs = bytes.dropFirst(prefix.count).split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard arcs.count >= 2, let root = arcs.first, root.count == 1,
              let digit = root.first, (UInt8(ascii: "0")...UInt8(ascii: "2")).contains(digit) else { return false }
        return arcs.dropFirst().allSatisfy { NumberGrammar.isDigits(Array($0), allowZero: true) }
    }

    /// `urn:uuid:` and 8-4-4-4-12 lower-case hexadecimal digits.
    private static func isUUID(_ bytes: [UInt8]) -> Bool {
        let prefix = Array("urn:uuid:".utf8)
        guard bytes.count == prefix.count + 36, Array(bytes.prefix(prefix.count)) == prefix else { return false }
        for (offset, byte) in bytes.dropFirst(prefix.count).enumerated() {
            if [8, 13, 18, 23].contains(offset) {
                if byte != UInt8(ascii: "-") { return false }
            } else if !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte), !(UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte) {
                return false
            }
        }
        return true
    }

    /// `(\s*([0-9a-zA-Z\+/=]){4}\s*)+`, and `=` only as padding at the very end (RFC 4648).
    private static func isBase64(_ bytes: [UInt8]) -> Bool {
        var count = 0
        var padding = 0
        for byte in bytes {
            if isASCIIWhitespace(byte) {
                if count % 4 != 0 { return false }
                continue
            }
            switch byte {
            case UInt8(ascii: "="):
                padding += 1
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "/"):
                if padding > 0 { return false }
            default:
                return false
            }
            count += 1
        }
        return count > 0 && count % 4 == 0 && padding <= 2
    }
}
