import Foundation

/// Case- and accent-insensitive form of text, the same in SQLite (a registered function)
/// and PostgreSQL (`unaccent` + `lower`), so string search matches R4's rules.
public enum TextFolding {
    public static func fold(_ text: String) -> String {
        text.folding(options: [.caseInsensitive, .diacriticInsensitive], locale: Locale(identifier: "en_US_POSIX")).lowercased()
    }
}

extension Date {
    static var nowEpoch: Int64 { Int64(Date().timeIntervalSince1970) }
}
