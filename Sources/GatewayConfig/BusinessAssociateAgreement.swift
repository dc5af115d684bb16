import Foundation

/// The tenant's business associate agreement (HIPAA): without one in force, no PHI is served.
public struct BusinessAssociateAgreement: Sendable, Equatable {
    public var version: String
    /// Calendar dates, `YYYY-MM-DD` (UTC). The agreement is in force from the start of `signed`
    /// to the end of `expires`; an agreement without `expires` runs until it is replaced.
    public var signed: String
    public var expires: String?

    public init(version: String, signed: String, expires: String?) {
        self.version = version
        self.signed = signed
        self.expires = expires
    }

    public enum Standing: Sendable, Equatable {
        case inForce(daysLeft: Int?)
        case notYetInForce
        case expired
    }

    /// Days before expiry from which the gateway warns (logs and metrics).
    public static let warningDays = 30

    public func standing(at now: Date = Date()) -> Standing {
        guard let start = Self.day(signed), now >= start else { return .notYetInForce }
        guard let expires else { return .inForce(daysLeft: nil) }
        guard let end = Self.day(expires)?.addingTimeInterval(86_400), now < end else { return .expired }
        return .inForce(daysLeft: Int((end.timeIntervalSince(now) / 86_400).rounded(.down)))
    }

    /// A `YYYY-MM-DD` date's first instant (UTC); nil for anything else.
    public static func day(_ text: String) -> Date? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.utf8.count == 10, parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let year = Int(parts[0]), let month = Int(parts[1]), let dayOfMonth = Int(parts[2]),
              (1...9999).contains(year), (1...12).contains(month), (1...31).contains(dayOfMonth) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let components = DateComponents(year: year, month: month, day: dayOfMonth)
        guard let date = calendar.date(from: components), calendar.component(.day, from: date) == dayOfMonth else { return nil }
        return date
    }
}
