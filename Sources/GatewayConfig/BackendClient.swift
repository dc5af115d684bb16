import Foundation

/// A system registered with a tenant for SMART Backend Services: it authenticates at the tenant's
/// token endpoint with a JWT signed by one of its own keys (`private_key_jwt`) and receives
/// tokens carrying at most its registered `system/` scopes.
public struct BackendClient: Sendable, Equatable {
    public enum Keys: Sendable, Equatable {
        /// A JWKS URL: https, or http to a loopback host.
        case url(String)
        /// A JWKS document held in the registry (canonical JSON text).
        case inline(String)
    }

    public var clientID: String
    public var name: String?
    public var keys: Keys
    /// `system/` resource scopes, as registered.
    public var scopes: [String]

    public init(clientID: String, name: String? = nil, keys: Keys, scopes: [String]) {
        self.clientID = clientID
        self.name = name
        self.keys = keys
        self.scopes = scopes
    }

    public static let maximumPerTenant = 100
    public static let maximumScopes = 50
    public static let maximumIDBytes = 128

    /// 1 to 128 characters of RFC 3986's unreserved set (letters, digits, `-`, `.`, `_`, `~`).
    public static func isValidClientID(_ text: some StringProtocol) -> Bool {
        (1...maximumIDBytes).contains(text.utf8.count) && text.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"): true
            default: false
            }
        }
    }

    /// An https URL, or http to a loopback host (127.0.0.0/8, `localhost`, `[::1]`), at most 2048 bytes.
    public static func isAcceptableKeySetURL(_ text: String) -> Bool {
        guard text.utf8.count <= 2048, let url = URL(string: text), let scheme = url.scheme?.lowercased(),
              let host = url.host?.lowercased(), !host.isEmpty, url.user == nil else { return false }
        switch scheme {
        case "https": return true
        case "http": return host == "localhost" || host == "::1" || host == "[::1]" || isLoopbackIPv4(host)
        default: return false
        }
    }

    /// A dotted IPv4 literal in 127.0.0.0/8.
    static func isLoopbackIPv4(_ host: String) -> Bool {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127"
            && parts.allSatisfy { part in (1...3).contains(part.count) && part.allSatisfy(\.isASCII) && UInt8(part) != nil }
    }

    /// The registered scopes that cover `requested` (a space-separated scope string): the
    /// requested scopes granted, as written, in request order, without repeats.
    public func grant(_ requested: String) -> [String] {
        let registered = scopes.compactMap(ScopeGrant.parse)
        var granted: [String] = []
        for scope in requested.split(separator: " ").map(String.init) where !granted.contains(scope) {
            guard let asked = ScopeGrant.parse(scope), asked.context == .system,
                  registered.contains(where: { $0.covers(asked) }) else { continue }
            granted.append(scope)
        }
        return granted
    }
}
