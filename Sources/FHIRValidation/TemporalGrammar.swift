/// The lexical grammars of R4 `date`, `dateTime`, `instant` and `time` (the regexes of the R4 definitions),
/// plus the calendar check the regexes cannot express ("Dates SHALL be valid dates").
enum TemporalGrammar {
    /// The date fields of a value; month and day are nil when the value is less precise.
    struct DateFields: Equatable {
        let year: Int
        let month: Int?
        let day: Int?
    }

    /// `YYYY(-MM(-DD)?)?`; the remaining bytes, if any, are left to the caller.
    static func date(_ bytes: [UInt8]) -> DateFields? {
        var scanner = Scanner(bytes)
        guard let fields = scanner.date(), scanner.atEnd else { return nil }
        return fields
    }

    /// A date, or a full date followed by `Thh:mm:ss(.s+)?` and a time zone.
    static func dateTime(_ bytes: [UInt8]) -> DateFields? {
        var scanner = Scanner(bytes)
        guard let fields = scanner.date() else { return nil }
        if scanner.atEnd { return fields }
        guard fields.day != nil, scanner.take(UInt8(ascii: "T")), scanner.timeOfDay(), scanner.zone(), scanner.atEnd else { return nil }
        return fields
    }

    /// `YYYY-MM-DDThh:mm:ss(.s+)?` and a time zone.
    static func instant(_ bytes: [UInt8]) -> DateFields? {
        var scanner = Scanner(bytes)
        guard let fields = scanner.date(), fields.day != nil, scanner.take(UInt8(ascii: "T")),
              scanner.timeOfDay(), scanner.zone(), scanner.atEnd else { return nil }
        return fields
    }

    /// `hh:mm:ss(.s+)?`
    static func time(_ bytes: [UInt8]) -> Bool {
        var scanner = Scanner(bytes)
        return scanner.timeOfDay() && scanner.atEnd
    }

    /// The date fields at the start of any of the date types, if they are lexically valid.
    static func dateFields(_ bytes: [UInt8]) -> DateFields? {
        var scanner = Scanner(bytes)
        return scanner.date()
    }

    /// Whether the day exists in its month (the regexes accept 2023-02-31).
    static func isCalendarDate(_ fields: DateFields) -> Bool {
        guard let month = fields.month, let day = fields.day else { return true }
        let leap = fields.year % 4 == 0 && (fields.year % 100 != 0 || fields.year % 400 == 0)
        let lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return day <= lengths[month - 1]
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { index == bytes.count }

        mutating func take(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        /// Exactly `count` ASCII digits as a number.
        mutating func number(_ count: Int) -> Int? {
            guard index + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index..<(index + count)] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            index += count
            return value
        }

        /// `YYYY(-MM(-DD)?)?` with year 0001-9999, month 01-12, day 01-31.
        mutating func date() -> DateFields? {
            guard let year = number(4), year > 0 else { return nil }
            guard take(UInt8(ascii: "-")) else { return DateFields(year: year, month: nil, day: nil) }
            guard let month = number(2), (1...12).contains(month) else { return nil }
            guard take(UInt8(ascii: "-")) else { return DateFields(year: year, month: month, day: nil) }
            guard let day = number(2), (1...31).contains(day) else { return nil }
            return DateFields(year: year, month: month, day: day)
        }

        /// `hh:mm:ss(.s+)?` with hours 00-23, minutes 00-59 and seconds 00-60.
        mutating func timeOfDay() -> Bool {
            guard let hour = number(2), hour < 24, take(UInt8(ascii: ":")),
                  let minute = number(2), minute < 60, take(UInt8(ascii: ":")),
                  let second = number(2), second <= 60 else { return false }
            if take(UInt8(ascii: ".")) {
                let start = index
                while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
                return index > start
            }
            return true
        }

        /// `Z` or `(+|-)hh:mm` with offsets 00:00-13:59 and 14:00.
        mutating func zone() -> Bool {
            if take(UInt8(ascii: "Z")) { return true }
            guard take(UInt8(ascii: "+")) || take(UInt8(ascii: "-")) else { return false }
            guard let hours = number(2), take(UInt8(ascii: ":")), let minutes = number(2), minutes < 60 else { return false }
            return hours < 14 || (hours == 14 && minutes == 0)
        }
    }
}
