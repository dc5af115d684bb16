/// A request failure that becomes an OperationOutcome with an HTTP status, in one place.
public struct FHIRError: Error, Sendable {
    public var status: Int
    public var issues: [OutcomeIssue]
    /// Extra response headers, such as `WWW-Authenticate` on a 401.
    public var headers: [(String, String)]

    public init(status: Int, issues: [OutcomeIssue], headers: [(String, String)] = []) {
        self.status = status
        self.issues = issues
        self.headers = headers
    }

    public init(status: Int, code: OutcomeIssue.Code, _ diagnostics: String, expression: [String] = [], headers: [(String, String)] = []) {
        self.init(status: status, issues: [OutcomeIssue(code: code, diagnostics: diagnostics, expression: expression)], headers: headers)
    }

    public static func notFound(_ diagnostics: String) -> FHIRError { FHIRError(status: 404, code: .notFound, diagnostics) }
    public static func badRequest(_ diagnostics: String, code: OutcomeIssue.Code = .invalid, expression: [String] = []) -> FHIRError {
        FHIRError(status: 400, code: code, diagnostics, expression: expression)
    }
    public static func forbidden(_ diagnostics: String) -> FHIRError { FHIRError(status: 403, code: .forbidden, diagnostics) }
    public static func unauthorized(_ diagnostics: String, error: String? = "invalid_token") -> FHIRError {
        var challenge = "Bearer realm=\"fhir\""
        if let error { challenge += ", error=\"\(error)\", error_description=\"\(diagnostics)\"" }
        return FHIRError(status: 401, code: .login, diagnostics, headers: [("WWW-Authenticate", challenge)])
    }
    public static let serviceUnavailable = FHIRError(status: 503, code: .transient, "The service is temporarily unavailable; retry later")
    public static let internalError = FHIRError(status: 500, code: .exception, "The server failed to process the request")

    public var outcome: JSON { OperationOutcome.resource(issues) }
}
