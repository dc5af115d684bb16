import FHIRModels
import GatewayConfig
import HTTPTypes
import Hummingbird

/// Cross-origin access for SMART apps in browsers, per tenant. Tokens travel in the
/// `Authorization` header, never in cookies, so no credentials mode is offered.
enum CORSPolicy {
    static let allowedMethods = "GET, HEAD, POST, PUT, OPTIONS"
    static let allowedHeaders = "Authorization, Content-Type, Accept, Prefer, If-Match, If-None-Match, If-None-Exist, If-Modified-Since, X-Request-Id, traceparent, tracestate"
    static let exposedHeaders = "Location, Content-Location, ETag, Last-Modified, X-Request-Id, X-Progress, Retry-After, Expires"

    /// The value for `Access-Control-Allow-Origin`, if this origin may call this tenant.
    static func allowedOrigin(_ origin: String?, tenant: TenantConfiguration) -> String? {
        guard let origin, !origin.isEmpty else { return nil }
        if tenant.corsAllowedOrigins.contains(origin) { return origin }
        return tenant.corsAllowedOrigins.contains("*") ? "*" : nil
    }

    /// Answers a preflight without a token.
    static func preflight(origin: String?, tenant: TenantConfiguration) -> Response {
        var response = Response(status: .noContent)
        if let allowed = allowedOrigin(origin, tenant: tenant) {
            response.headers[.accessControlAllowOrigin] = allowed
            response.headers[.accessControlAllowMethods] = allowedMethods
            response.headers[.accessControlAllowHeaders] = allowedHeaders
            response.headers[.accessControlMaxAge] = "600"
        }
        response.headers[.vary] = "Origin"
        return response
    }

    static func decorate(_ response: inout Response, origin: String?, tenant: TenantConfiguration) {
        guard let allowed = allowedOrigin(origin, tenant: tenant) else { return }
        response.headers[.accessControlAllowOrigin] = allowed
        response.headers[.accessControlExposeHeaders] = exposedHeaders
        response.headers[.vary] = "Origin"
    }
}
