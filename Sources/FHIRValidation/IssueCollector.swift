import FHIRModels

/// Collects validation issues up to a limit; later issues are counted as dropped, not kept.
struct IssueCollector {
    let limit: Int
    private(set) var issues: [OutcomeIssue] = []
    private(set) var dropped = 0

    init(limit: Int) { self.limit = limit }

    /// Records an error at a FHIRPath expression (none when `path` is empty).
    mutating func add(_ code: OutcomeIssue.Code, _ diagnostics: String, at path: String) {
        guard issues.count < limit else {
            dropped += 1
            return
        }
        issues.append(OutcomeIssue(severity: .error, code: code, diagnostics: diagnostics, expression: path.isEmpty ? [] : [path]))
    }

    /// The issues, with a closing warning when some were dropped.
    func finished() -> [OutcomeIssue] {
        guard dropped > 0 else { return issues }
        return issues + [OutcomeIssue(severity: .warning, code: .tooCostly,
                                      diagnostics: "Validation reported the first \(limit) issues; \(dropped) more were not reported")]
    }
}
