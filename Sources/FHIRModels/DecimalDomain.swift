/// The decimals the gateway stores and compares: at most 38 significant digits, a magnitude
/// between 1e-120 and 1e120 (zero included) and a written exponent in the same range. Foundation's `Decimal` and PostgreSQL `numeric` both hold
/// every such value exactly; `1e999999` is valid JSON but would fail in the database, so it is refused at the edge.
public enum DecimalDomain {
    public static let maximumSignificantDigits = 38
    public static let exponentRange = -120...120
    public static let maximumWrittenDigits = 128

    /// True for a JSON/FHIR decimal literal inside the domain.
    public static func contains(_ text: some StringProtocol) -> Bool {
        let bytes = Array(text.utf8)
        var index = 0
        func isDigit(_ position: Int) -> Bool {
            position < bytes.count && bytes[position] >= UInt8(ascii: "0") && bytes[position] <= UInt8(ascii: "9")
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") { index += 1 }
        var digits: [UInt8] = []
        var integerCount = 0
        while isDigit(index) { digits.append(bytes[index]); integerCount += 1; index += 1 }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard isDigit(index) else { return false }
            while isDigit(index) { digits.append(bytes[index]); index += 1 }
        }
        // An integer part is required (JSON and FHIR grammar), and zeros do not make a literal unbounded.
        guard integerCount > 0, digits.count <= maximumWrittenDigits else { return false }
        var exponent = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            var negative = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
                negative = bytes[index] == UInt8(ascii: "-")
                index += 1
            }
            var count = 0
            while isDigit(index) {
                // Six digits already exceed any range; the bound also keeps this arithmetic from overflowing.
                count += 1
                guard count <= 6 else { return false }
                exponent = exponent * 10 + Int(bytes[index] - UInt8(ascii: "0"))
                index += 1
            }
            guard count > 0 else { return false }
            if negative { exponent = -exponent }
        }
        // The written exponent is bounded too: PostgreSQL refuses `0e999999` although its value is zero.
        guard index == bytes.count, exponentRange.contains(exponent) else { return false }
        guard let firstSignificant = digits.firstIndex(where: { $0 != UInt8(ascii: "0") }) else { return true }
        let lastSignificant = digits.lastIndex(where: { $0 != UInt8(ascii: "0") }) ?? firstSignificant
        guard lastSignificant - firstSignificant + 1 <= maximumSignificantDigits else { return false }
        // Power of ten of the leading significant digit.
        let magnitude = integerCount - 1 - firstSignificant + exponent
        return exponentRange.contains(magnitude)
    }
}
