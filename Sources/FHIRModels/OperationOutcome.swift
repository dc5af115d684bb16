/// One issue of an OperationOutcome.
public struct OutcomeIssue: Sendable, Equatable {
    public enum Severity: String, Sendable { case fatal, error, warning, information }

    /// FHIR issue-type codes (http://hl7.org/fhir/issue-type) the gateway uses.
    public enum Code: String, Sendable {
        case invalid, structure, required, value, invariant, security, login, unknown, expired
        case forbidden, suppressed, processing, notSupported = "not-supported", duplicate
        case notFound = "not-found", tooLong = "too-long", codeInvalid = "code-invalid"
        case businessRule = "business-rule", conflict, transient, lockError = "lock-error"
        case noStore = "no-store", exception, timeout, incomplete, throttled, informational
        case tooCostly = "too-costly"
    }

    public var severity: Severity
    public var code: Code
    public var diagnostics: String
    public var expression: [String]

    public init(severity: Severity = .error, code: Code, diagnostics: String, expression: [String] = []) {
        self.severity = severity
        self.code = code
        self.diagnostics = diagnostics
        self.expression = expression
    }
}

/// Builds OperationOutcome resources; diagnostics must never carry PHI, SQL or internals.
public enum OperationOutcome {
    public static func resource(_ issues: [OutcomeIssue]) -> JSON {
        var object = JSONObject()
        object.append("resourceType", "OperationOutcome")
        object.append("issue", .array(issues.map { issue in
            var entry = JSONObject()
            entry.append("severity", issue.severity.rawValue)
            entry.append("code", issue.code.rawValue)
            entry.append("diagnostics", issue.diagnostics)
            if !issue.expression.isEmpty { entry.append("expression", .array(issue.expression.map(JSON.string))) }
            return .object(entry)
        }))
        return .object(object)
    }
}
