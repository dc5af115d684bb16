import FHIRModels
import HTTPTypes
import Hummingbird

/// An OAuth 2.0 error answer (RFC 6749 §5.2): `{"error", "error_description"}`, never cached.
/// `reason` is the log label; the description says what was wrong, never what was sent.
struct OAuthError: Error, Sendable {
    let status: HTTPResponse.Status
    let code: String
    let description: String
    let reason: String
    var headers: [(String, String)] = []

    static func invalidRequest(_ description: String, reason: String, status: HTTPResponse.Status = .badRequest) -> OAuthError {
        OAuthError(status: status, code: "invalid_request", description: description, reason: reason)
    }

    static func invalidClient(_ description: String, reason: String) -> OAuthError {
        OAuthError(status: .unauthorized, code: "invalid_client", description: description, reason: reason)
    }

    var response: Response {
        var body = JSONObject()
        body.append("error", code)
        body.append("error_description", description)
        return FHIRResponse.json(.object(body), status: status, contentType: ContentNegotiation.plainJSON,
                                 headers: OAuthError.noStore + headers)
    }

    /// RFC 6749 §5.1: token answers, and their errors, are never stored.
    static let noStore = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
}
