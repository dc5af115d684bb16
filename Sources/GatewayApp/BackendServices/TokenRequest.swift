/// A client credentials token request (RFC 6749 §4.4) authenticated by a JWT assertion
/// (RFC 7523 §2.2), read from its `application/x-www-form-urlencoded` body.
struct TokenRequest: Sendable, Equatable {
    static let assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    static let maximumBodyBytes = 16 * 1024

    let assertion: String
    /// The requested scopes as sent (space-separated); empty when none.
    let scope: String

    /// Checks the form: every parameter at most once (RFC 6749 §3.2), the client credentials grant,
    /// the JWT bearer assertion type, and an assertion.
    static func parse(_ body: String) throws(OAuthError) -> TokenRequest {
        let pairs: [(String, String)]
        do { pairs = try QueryString.parse(body) } catch {
            throw .invalidRequest("the body is not valid application/x-www-form-urlencoded", reason: "malformed_form")
        }
        var form: [String: String] = [:]
        for (name, value) in pairs {
            guard form.updateValue(value, forKey: name) == nil else {
                throw .invalidRequest("each parameter may be sent once", reason: "repeated_parameter")
            }
        }
        guard let grant = form["grant_type"], !grant.isEmpty else { throw .invalidRequest("grant_type is required", reason: "missing_grant_type") }
        guard grant == "client_credentials" else {
            throw OAuthError(status: .badRequest, code: "unsupported_grant_type", description: "only grant_type=client_credentials is supported",
                             reason: "unsupported_grant_type")
        }
        guard form["client_assertion_type"] == assertionType else {
            throw .invalidRequest("client_assertion_type must be \(assertionType)", reason: "bad_assertion_type")
        }
        guard let assertion = form["client_assertion"], !assertion.isEmpty else {
            throw .invalidRequest("client_assertion is required", reason: "missing_assertion")
        }
        return TokenRequest(assertion: assertion, scope: form["scope"] ?? "")
    }
}
