/// A FHIR `date`, `dateTime` or `instant` value as the interval of time it denotes.
///
/// `2024` covers the whole year, `2024-03` the month, `2024-03-05` the day, and a value with
/// a time covers that second. Bounds are epoch seconds, `upper` exclusive.
public struct FHIRDateTime: Sendable, Equatable {
    public enum Precision: Int, Sendable, Comparable {
        case year, month, day, second
        public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    public let lower: Int64
    public let upper: Int64
    public let precision: Precision

    public init(lower: Int64, upper: Int64, precision: Precision) {
        self.lower = lower
        self.upper = upper
        self.precision = precision
    }

    /// Parses the R4 `dateTime` grammar; a time without a zone is taken as UTC.
    public static func parse(_ text: String) -> FHIRDateTime? {
        let bytes = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= bytes.count else { return nil }
            var value = 0
            for index in range {
                let byte = bytes[index]
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        func expect(_ index: Int, _ character: Unicode.Scalar) -> Bool {
            index < bytes.count && bytes[index] == UInt8(ascii: character)
        }
        guard let year = number(0..<4), year >= 1 else { return nil }
        if bytes.count == 4 {
            let start = Int64(CivilTime.days(year: year, month: 1, day: 1)) * 86400
            let end = Int64(CivilTime.days(year: year + 1, month: 1, day: 1)) * 86400
            return FHIRDateTime(lower: start, upper: end, precision: .year)
        }
        guard expect(4, "-"), let month = number(5..<7), (1...12).contains(month) else { return nil }
        if bytes.count == 7 {
            let start = Int64(CivilTime.days(year: year, month: month, day: 1)) * 86400
            let next = month == 12 ? CivilTime.days(year: year + 1, month: 1, day: 1) : CivilTime.days(year: year, month: month + 1, day: 1)
            return FHIRDateTime(lower: start, upper: Int64(next) * 86400, precision: .month)
        }
        guard expect(7, "-"), let day = number(8..<10), day >= 1, day <= CivilTime.daysInMonth(year: year, month: month) else { return nil }
        let dayStart = Int64(CivilTime.days(year: year, month: month, day: day)) * 86400
        if bytes.count == 10 {
            return FHIRDateTime(lower: dayStart, upper: dayStart + 86400, precision: .day)
        }
        guard expect(10, "T"), let hour = number(11..<13), hour < 24, expect(13, ":"),
              let minute = number(14..<16), minute < 60 else { return nil }
        var index = 16
        var second = 0
        var width: Int64 = 60
        if expect(index, ":") {
            width = 1
            guard let parsed = number(17..<19), parsed < 60 else { return nil }
            second = parsed
            index = 19
            if expect(index, ".") {
                index += 1
                let fractionStart = index
                while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 { index += 1 }
                guard index > fractionStart else { return nil }
            }
        }
        var offset = 0
        if index < bytes.count {
            if expect(index, "Z") {
                index += 1
            } else if expect(index, "+") || expect(index, "-") {
                let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
                guard let offsetHours = number((index + 1)..<(index + 3)), expect(index + 3, ":"),
                      let offsetMinutes = number((index + 4)..<(index + 6)), offsetHours <= 14, offsetMinutes < 60 else { return nil }
                offset = sign * (offsetHours * 3600 + offsetMinutes * 60)
                index += 6
            } else {
                return nil
            }
        }
        guard index == bytes.count else { return nil }
        let instant = dayStart + Int64(hour * 3600 + minute * 60 + second) - Int64(offset)
        return FHIRDateTime(lower: instant, upper: instant + width, precision: .second)
    }
}
