/// A literal reference to a resource of this tenant, in any of the forms FHIR allows for it:
/// `Type/id`, `Type/id/_history/n`, or either under the tenant's own absolute base.
public struct LocalReference: Sendable, Equatable {
    public var type: String
    /// The id, lower-cased: the gateway's ids are UUIDs (or `apt-`/`adm-` prefixed UUIDs).
    public var id: String
    public var version: String?

    /// Nil for contained (`#id`), placeholder (`urn:`), other servers' and malformed references.
    public static func parse(_ text: String, baseURL: String?) -> LocalReference? {
        var relative = Substring(text)
        if let baseURL, !baseURL.isEmpty, relative.hasPrefix(baseURL + "/") { relative = relative.dropFirst(baseURL.count + 1) }
        let parts = relative.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 || (parts.count == 4 && parts[2] == "_history" && !parts[3].isEmpty) else { return nil }
        let type = parts[0]
        guard let first = type.utf8.first, first >= UInt8(ascii: "A"), first <= UInt8(ascii: "Z"),
              type.utf8.allSatisfy({ ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z")) || ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) }),
              !parts[1].isEmpty, parts[1].utf8.count <= 64,
              parts[1].utf8.allSatisfy({ isIDByte($0) }) else { return nil }
        return LocalReference(type: String(type), id: parts[1].lowercased(), version: parts.count == 4 ? String(parts[3]) : nil)
    }

    /// `Type/id`, the form search columns and audit records hold.
    public var relative: String { "\(type)/\(id)" }

    private static func isIDByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
    }
}
