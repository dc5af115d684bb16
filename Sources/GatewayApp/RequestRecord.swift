import GatewayAuth
import Logging

/// What one request did, for its log line: no PHI, no tokens, no query values.
struct RequestRecord: Sendable {
    var requestID: String
    var method: String
    var tenant: String?
    var interaction: String?
    var resourceType: String?
    var resultCount: Int?
    var authFailure: String?
    /// The route as a template without ids (`/{tenant}/r4/Patient/{id}`): the server span's name.
    var route: String?
    /// The W3C trace id of the request (its server span's, or the caller's `traceparent` when tracing is off).
    var traceID: String?
    /// The verified token's scope, once the token checks passed (the audit record's agents).
    var scope: TenantScope?

    /// `typeLabel`: the resource type as metrics bucket it (a known type, or `other`), never the
    /// path segment as the client typed it (which may be anything, a name included).
    func log(to logger: Logger, status: Int, durationMilliseconds: Double, typeLabel: (String?) -> String) {
        guard logger.logLevel <= .info else { return }
        var metadata: Logger.Metadata = [
            "request_id": .string(requestID), "http.method": .string(method), "http.status": .stringConvertible(status),
            "duration_ms": .string(String(format: "%.2f", durationMilliseconds)),
        ]
        if let tenant { metadata["tenant"] = .string(tenant) }
        if let interaction { metadata["fhir.interaction"] = .string(interaction) }
        if resourceType != nil { metadata["fhir.type"] = .string(typeLabel(resourceType)) }
        if let resultCount { metadata["fhir.results"] = .stringConvertible(resultCount) }
        if let authFailure { metadata["auth.failure"] = .string(authFailure) }
        if let traceID { metadata["trace_id"] = .string(traceID) }
        logger.info("request", metadata: metadata)
    }
}
