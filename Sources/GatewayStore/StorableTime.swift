import FHIRModels

/// The instants both stores hold: years 1 to 9999, to the second.
enum StorableTime {
    static let firstSecond = Int64(CivilTime.days(year: 1, month: 1, day: 1)) * 86400
    /// The first second after year 9999.
    static let end = Int64(CivilTime.days(year: 10000, month: 1, day: 1)) * 86400

    /// `seconds` clamped into the storable years.
    static func clamped(_ seconds: Int64) -> Int64 { min(max(seconds, firstSecond), end - 1) }
}
