/// Where a request goes, decided from the raw (still percent-encoded) path.
enum FHIRRoute: Equatable {
    case health
    case ready
    case metrics
    case developmentJWKS
    /// `/<tenant>/r4/<rest>`: `rest` has no empty, dot or encoded segments.
    case tenant(slug: String, rest: [String])
    /// `/<tenant>/auth/token` and `/<tenant>/auth/jwks.json`: the gateway's own authorisation server.
    case backend(slug: String, endpoint: BackendEndpoint)
    /// A path that can never be a tenant path (encoded, dot or empty segments, bad slug).
    case malformed
    case notFound

    static func parse(path: String) -> FHIRRoute {
        switch path {
        case "/healthz": return .health
        case "/readyz": return .ready
        case "/metrics": return .metrics
        case "/dev-issuer/jwks.json": return .developmentJWKS
        default: break
        }
        guard path.hasPrefix("/") else { return .malformed }
        var segments = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if segments.count > 2, segments.last == "" { segments.removeLast() }
        for segment in segments {
            if segment.isEmpty || segment == "." || segment == ".." || segment.contains("%") || segment.contains("\\") { return .malformed }
        }
        guard segments.count >= 2 else { return segments.first.map(isSlugLike) == true ? .notFound : .malformed }
        let slug = segments[0]
        guard isSlugLike(slug) else { return .malformed }
        if segments[1] == "auth" {
            guard segments.count == 3, let endpoint = BackendEndpoint(rawValue: segments[2]) else { return .notFound }
            return .backend(slug: slug, endpoint: endpoint)
        }
        guard segments[1] == "r4" else { return .notFound }
        return .tenant(slug: slug, rest: Array(segments.dropFirst(2)))
    }

    /// The route without ids, for span names: `/healthz`, `/{tenant}/r4/Patient/{id}/_history/{vid}`.
    /// Resource types outside `knownTypes` become `{type}`; nil for paths that are no route.
    func template(knownTypes: Set<String>) -> String? {
        switch self {
        case .health: return "/healthz"
        case .ready: return "/readyz"
        case .metrics: return "/metrics"
        case .developmentJWKS: return "/dev-issuer/jwks.json"
        case .malformed, .notFound: return nil
        case .backend(_, let endpoint): return "/{tenant}/auth/\(endpoint.rawValue)"
        case .tenant(_, let rest):
            guard rest.count <= 4 else { return "/{tenant}/r4/{path}" }
            var template = "/{tenant}/r4"
            for (index, segment) in rest.enumerated() {
                template += "/"
                if Self.fixedSegments.contains(segment) {
                    template += segment
                } else if index == 0 {
                    template += knownTypes.contains(segment) ? segment : "{type}"
                } else {
                    template += index == 3 ? "{vid}" : "{id}"
                }
            }
            return template
        }
    }

    /// Path segments that are part of the FHIR grammar rather than names or ids.
    private static let fixedSegments: Set<String> = ["metadata", ".well-known", "smart-configuration", "_search", "$validate", "_history", "$export", "$export-status", "$export-file"]

    private static func isSlugLike(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 63 && text.utf8.allSatisfy {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "-")
        }
    }
}

/// What a tenant path asks for.
enum FHIRInteraction: Equatable {
    case capabilities
    case smartConfiguration
    case read(type: String, id: String)
    case vread(type: String, id: String, version: String)
    case search(type: String)
    case create(type: String)
    case update(type: String, id: String)
    case history(type: String, id: String)
    case validate(type: String)
    /// `POST /<tenant>/r4` with a transaction or batch Bundle.
    case bundle
    /// Bulk Data kick-off: `$export`, `Patient/$export`, `Group/<id>/$export`.
    case export(level: ExportParameters.Level)
    case exportStatus(job: String)
    case exportCancel(job: String)
    case exportFile(job: String, file: String)
    case unsupported(type: String?, name: String)

    var name: String {
        switch self {
        case .capabilities: "capabilities"
        case .smartConfiguration: "smart-configuration"
        case .read: "read"
        case .vread: "vread"
        case .search: "search-type"
        case .create: "create"
        case .update: "update"
        case .history: "history-instance"
        case .validate: "$validate"
        case .bundle: "transaction"
        case .export: "export"
        case .exportStatus: "export-status"
        case .exportCancel: "export-cancel"
        case .exportFile: "export-download"
        case .unsupported(_, let name): name
        }
    }

    /// The id of a read, for matching.
    var readID: String? {
        if case .read(_, let id) = self { return id }
        return nil
    }

    var resourceType: String? {
        switch self {
        case .read(let type, _), .vread(let type, _, _), .search(let type), .create(let type), .update(let type, _), .history(let type, _), .validate(let type): type
        case .unsupported(let type, _): type
        case .capabilities, .smartConfiguration, .bundle, .export, .exportStatus, .exportCancel, .exportFile: nil
        }
    }

    /// The methods a tenant path answers, for `Allow` on a 405 (RFC 9110 §15.5.6).
    static func allowedMethods(rest: [String], writable: Set<String>) -> String {
        if rest.last == "$export" { return "GET, HEAD, POST" }
        if rest.first == "$export-status" { return "GET, HEAD, DELETE" }
        if rest.first == "$export-file" { return "GET, HEAD" }
        switch rest.count {
        case 0: return "POST"
        case 1: return rest[0] != "metadata" && writable.contains(rest[0]) ? "GET, HEAD, POST" : "GET, HEAD"
        case 2:
            if rest[1] == "_search" || rest[1] == "$validate" { return "POST" }
            return rest[0] != ".well-known" && writable.contains(rest[0]) ? "GET, HEAD, PUT" : "GET, HEAD"
        default: return "GET, HEAD"
        }
    }

    /// An unsupported method as an interaction name from a fixed set: the name is a metrics label,
    /// a span attribute and an audit subtype, and a client can send any token as a method.
    static func methodName(_ method: String) -> String {
        ["PUT", "DELETE", "PATCH", "POST", "TRACE", "CONNECT", "OPTIONS"].contains(method) ? method.lowercased() : "other-method"
    }

    /// The Bulk Data paths; nil for any other path.
    private static func parseExport(method: String, reading: Bool, rest: [String]) -> FHIRInteraction? {
        if rest.last == "$export" {
            let level: ExportParameters.Level
            switch rest.count {
            case 1: level = .system
            case 2 where rest[0] == "Patient": level = .patient
            case 3 where rest[0] == "Group": level = .group(rest[1])
            default: return .unsupported(type: rest.count > 1 ? rest[0] : nil, name: "export")
            }
            return reading || method == "POST" ? .export(level: level) : .unsupported(type: nil, name: "export")
        }
        if rest.first == "$export-status", rest.count == 2 {
            if reading { return .exportStatus(job: rest[1]) }
            return method == "DELETE" ? .exportCancel(job: rest[1]) : .unsupported(type: nil, name: "export-status")
        }
        if rest.first == "$export-file", rest.count == 3 {
            return reading ? .exportFile(job: rest[1], file: rest[2]) : .unsupported(type: nil, name: "export-download")
        }
        return nil
    }

    static func parse(method: String, rest: [String]) -> FHIRInteraction? {
        let reading = method == "GET" || method == "HEAD"
        if let export = parseExport(method: method, reading: reading, rest: rest) { return export }
        switch rest.count {
        case 0: return method == "POST" ? .bundle : .unsupported(type: nil, name: "base")
        case 1:
            if rest[0] == "metadata" { return reading ? .capabilities : .unsupported(type: nil, name: "capabilities") }
            if reading { return .search(type: rest[0]) }
            if method == "POST" { return .create(type: rest[0]) }
            return .unsupported(type: rest[0], name: methodName(method))
        case 2:
            if rest == [".well-known", "smart-configuration"] { return reading ? .smartConfiguration : .unsupported(type: nil, name: "smart-configuration") }
            if rest[1] == "_search" { return method == "POST" ? .search(type: rest[0]) : .unsupported(type: rest[0], name: "search-type") }
            if rest[1] == "$validate" { return method == "POST" ? .validate(type: rest[0]) : .unsupported(type: rest[0], name: "$validate") }
            if reading { return .read(type: rest[0], id: rest[1]) }
            if method == "PUT" { return .update(type: rest[0], id: rest[1]) }
            return .unsupported(type: rest[0], name: methodName(method))
        case 3 where rest[2] == "_history":
            return reading ? .history(type: rest[0], id: rest[1]) : .unsupported(type: rest[0], name: "history-instance")
        case 4 where rest[2] == "_history":
            return reading ? .vread(type: rest[0], id: rest[1], version: rest[3]) : .unsupported(type: rest[0], name: "vread")
        default:
            return nil
        }
    }
}
