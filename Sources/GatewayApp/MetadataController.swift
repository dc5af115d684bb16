import FHIRModels
import Hummingbird

/// `GET /<tenant>/r4/metadata`: the tenant's cached CapabilityStatement.
enum MetadataController {
    static func respond(tenant: ResolvedTenant, parameters: [(String, String)], request: Request, contentType: String) throws -> Response {
        var summary = false
        for (key, value) in parameters {
            switch key {
            case "_summary":
                switch value {
                case "true": summary = true
                case "false", "data": summary = false
                default: throw FHIRError.badRequest("_summary for metadata must be true, false or data", code: .value, expression: ["_summary"])
                }
            case "mode":
                guard value == "full" || value == "normative" else {
                    throw FHIRError.badRequest("mode must be full or normative; terminology capabilities are not offered", code: .notSupported, expression: ["mode"])
                }
            case "_format", "_pretty":
                continue
            default:
                continue
            }
        }
        let capability = tenant.capability
        let etag = summary ? capability.summaryEtag : capability.etag
        let headers = [("ETag", etag), ("Cache-Control", "no-cache")]
        if let match = request.headers[.ifNoneMatch], match.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == etag }) {
            return FHIRResponse.notModified(headers: headers)
        }
        return FHIRResponse.json(summary ? capability.summary : capability.full, contentType: contentType, headers: headers)
    }
}
