/// UTC calendar arithmetic on epoch seconds, without Foundation's calendar machinery.
public enum CivilTime {
    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    public static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146097 + dayOfEra - 719468
    }

    public static func date(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let dayOfEra = z - era * 146097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }

    /// `YYYY-MM-DD` of the UTC day holding `epochSeconds`.
    public static func isoDate(epochSeconds: Int64) -> String {
        let days = floorDays(epochSeconds)
        let (y, m, d) = date(fromDays: days)
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))"
    }

    /// FHIR `instant` in UTC: `YYYY-MM-DDThh:mm:ssZ`.
    public static func isoInstant(epochSeconds: Int64) -> String {
        let seconds = Int(((epochSeconds % 86400) + 86400) % 86400)
        return isoDate(epochSeconds: epochSeconds) + "T\(pad(seconds / 3600, 2)):\(pad(seconds / 60 % 60, 2)):\(pad(seconds % 60, 2))Z"
    }

    /// Whole days since 1970 before `epochSeconds` (floor division, without an intermediate that could overflow).
    public static func floorDays(_ epochSeconds: Int64) -> Int {
        let quotient = epochSeconds / 86400
        return Int(epochSeconds % 86400 < 0 ? quotient - 1 : quotient)
    }

    private static let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// RFC 9110 IMF-fixdate, for `Last-Modified`.
    public static func httpDate(epochSeconds: Int64) -> String {
        let days = floorDays(epochSeconds)
        let (y, m, d) = date(fromDays: days)
        let seconds = Int(((epochSeconds % 86400) + 86400) % 86400)
        let weekday = weekdays[((days % 7) + 7) % 7]
        return "\(weekday), \(pad(d, 2)) \(months[m - 1]) \(pad(y, 4)) \(pad(seconds / 3600, 2)):\(pad(seconds / 60 % 60, 2)):\(pad(seconds % 60, 2)) GMT"
    }

    /// Parses an RFC 9110 IMF-fixdate (`If-Modified-Since`): fixed-width fields, each in its range;
    /// anything else is nil, so no client value reaches the arithmetic below out of range.
    public static func parseHTTPDate(_ text: String) -> Int64? {
        let parts = text.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0].count == 4, parts[0].hasSuffix(","), parts[5] == "GMT",
              let day = fixedDigits(parts[1], width: 2), let monthIndex = months.firstIndex(of: String(parts[2])),
              let year = fixedDigits(parts[3], width: 4), year >= 1 else { return nil }
        let clock = parts[4].split(separator: ":", omittingEmptySubsequences: false)
        guard clock.count == 3, let hour = fixedDigits(clock[0], width: 2), let minute = fixedDigits(clock[1], width: 2),
              let second = fixedDigits(clock[2], width: 2), hour < 24, minute < 60, second < 61,
              (1...daysInMonth(year: year, month: monthIndex + 1)).contains(day) else { return nil }
        return Int64(days(year: year, month: monthIndex + 1, day: day)) * 86400 + Int64(hour * 3600 + minute * 60 + second)
    }

    /// Exactly `width` ASCII digits (at most 4, so the value always fits).
    private static func fixedDigits(_ text: Substring, width: Int) -> Int? {
        guard text.utf8.count == width, width <= 4 else { return nil }
        var value = 0
        for byte in text.utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }
}
