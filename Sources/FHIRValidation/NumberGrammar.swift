/// The lexical grammars of R4's numeric primitives, on a number's written form.
enum NumberGrammar {
    private static let zero = UInt8(ascii: "0")
    private static let nine = UInt8(ascii: "9")

    /// `[0-9]+` without leading zeros: `0|[1-9][0-9]*` (unsignedInt) or `[1-9][0-9]*` (positiveInt).
    static func isDigits<C: Collection>(_ bytes: C, allowZero: Bool) -> Bool where C.Element == UInt8 {
        guard let first = bytes.first, bytes.allSatisfy({ (zero...nine).contains($0) }) else { return false }
        if first == zero { return allowZero && bytes.count == 1 }
        return true
    }

    /// `-?([0]|([1-9][0-9]*))`
    static func isInteger(_ bytes: [UInt8]) -> Bool {
        isDigits(bytes.first == UInt8(ascii: "-") ? bytes.dropFirst() : bytes[...], allowZero: true)
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    static func isDecimal(_ bytes: [UInt8]) -> Bool {
        var index = bytes.first == UInt8(ascii: "-") ? 1 : 0
        let integerStart = index
        while index < bytes.count, (zero...nine).contains(bytes[index]) { index += 1 }
        guard isDigits(bytes[integerStart..<index], allowZero: true) else { return false }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            let fractionStart = index
            while index < bytes.count, (zero...nine).contains(bytes[index]) { index += 1 }
            guard index > fractionStart else { return false }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            let exponentStart = index
            while index < bytes.count, (zero...nine).contains(bytes[index]) { index += 1 }
            guard index > exponentStart else { return false }
        }
        return index == bytes.count
    }
}
