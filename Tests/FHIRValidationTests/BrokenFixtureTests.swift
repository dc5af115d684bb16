import FHIRModels
import Foundation
import Testing
@testable import FHIRValidation

/// Valid US Core resources (Fixtures/) with one defect each: exactly that defect is reported.
@Suite struct BrokenFixtureTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let file: String
        let code: OutcomeIssue.Code
        let expression: String
        var testDescription: String { file }
    }

    static let cases: [Case] = [
        Case(file: "unknown-element.json", code: .structure, expression: "Observation.foo"),
        Case(file: "unknown-nested-element.json", code: .structure, expression: "Observation.referenceRange[0].low.bar"),
        Case(file: "two-values.json", code: .structure, expression: "Observation.value[x]"),
        Case(file: "unknown-choice-type.json", code: .structure, expression: "Observation.valueMoney"),
        Case(file: "bad-date.json", code: .value, expression: "Observation.effective.ofType(dateTime)"),
        Case(file: "impossible-date.json", code: .value, expression: "Observation.effective.ofType(dateTime)"),
        Case(file: "bad-id.json", code: .value, expression: "Observation.id"),
        Case(file: "bad-status-code.json", code: .codeInvalid, expression: "Observation.status"),
        Case(file: "missing-status.json", code: .required, expression: "Observation.status"),
        Case(file: "missing-code.json", code: .required, expression: "DiagnosticReport.code"),
        Case(file: "string-for-array.json", code: .structure, expression: "Observation.category"),
        Case(file: "array-for-single.json", code: .structure, expression: "Observation.subject"),
        Case(file: "integer-with-fraction.json", code: .value, expression: "Observation.value.ofType(integer)"),
        Case(file: "decimal-as-string.json", code: .structure, expression: "Observation.value.ofType(Quantity).value"),
        Case(file: "empty-string.json", code: .value, expression: "Observation.value.ofType(Quantity).unit"),
        Case(file: "null-value.json", code: .structure, expression: "Observation.issued"),
        Case(file: "wrong-resource-type.json", code: .structure, expression: "resourceType"),
        Case(file: "extension-without-url.json", code: .required, expression: "Observation.extension[0].url"),
        Case(file: "contained-without-id.json", code: .required, expression: "DiagnosticReport.contained[0].id"),
    ]

    @Test(arguments: cases)
    func reportsExactlyTheDefect(_ fixture: Case) throws {
        let issues = StructuralValidator.validate(try TestFiles.fixture(fixture.file), expectedType: nil)
        #expect(issues.count == 1, "\(issues.map { "\($0.code.rawValue) \($0.expression)" })")
        #expect(issues.first?.code == fixture.code)
        #expect(issues.first?.expression == [fixture.expression])
        #expect(issues.first?.severity == .error)
        #expect(issues.first?.diagnostics.isEmpty == false)
    }

    @Test func everyProblemIsReportedInOneCall() throws {
        // DiagnosticReport-cbc with a bad status, no code, a dateTime without seconds and zone,
        // a single result where an array is required and a misspelt element.
        let issues = StructuralValidator.validate(try TestFiles.fixture("multiple-problems.json"), expectedType: "DiagnosticReport")
        let found = issues.map { "\($0.code.rawValue) \($0.expression.joined())" }
        #expect(found == [
            "code-invalid DiagnosticReport.status",
            "value DiagnosticReport.effective.ofType(dateTime)",
            "structure DiagnosticReport.result",
            "structure DiagnosticReport.conclusions",
            "required DiagnosticReport.code",
        ])
    }

    @Test func everyFixtureIsUsed() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: TestFiles.fixtures.path).filter { $0.hasSuffix(".json") }
        let used = Set(Self.cases.map(\.file) + ["multiple-problems.json"])
        #expect(Set(files) == used)
    }

    @Test func aWrongButValidTypeIsReportedAgainstTheExpectedType() throws {
        let patient = try TestFiles.json(TestFiles.usCoreExamples.appendingPathComponent("Patient-example.json"))
        let issues = StructuralValidator.validate(patient, expectedType: "Observation")
        #expect(issues.map(\.code) == [.invalid])
        #expect(issues.first?.expression == ["resourceType"])
    }
}
