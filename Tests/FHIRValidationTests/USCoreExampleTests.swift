import FHIRModels
import Foundation
import Testing
@testable import FHIRValidation

/// Real third-party input: every US Core example of a supported resource type is structurally valid R4.
@Suite struct USCoreExampleTests {
    /// The examples whose resourceType the validator supports.
    static let supportedExamples: [String] = TestFiles.usCoreExampleNames().filter { name in
        guard let json = try? TestFiles.json(TestFiles.usCoreExamples.appendingPathComponent(name)),
              let type = json["resourceType"]?.stringValue else { return false }
        return StructuralValidator.supportedResourceTypes.contains(type)
    }

    @Test func theLabExamplesAreAmongThem() {
        let required = ["DiagnosticReport-cbc.json", "DiagnosticReport-metabolic-panel.json", "Observation-cbc-hemoglobin.json",
                        "Observation-serum-sodium.json", "Patient-example.json", "Practitioner-practitioner-1.json",
                        "Organization-acme-lab.json", "Encounter-example-1.json", "Specimen-specimen-example-serum.json"]
        for name in required { #expect(Self.supportedExamples.contains(name), "missing example \(name) in \(TestFiles.usCoreExamples.path)") }
        for prefix in ["Observation-", "Patient-", "Practitioner-", "Organization-", "Encounter-", "Specimen-", "DiagnosticReport-"] {
            let all = TestFiles.usCoreExampleNames().filter { $0.hasPrefix(prefix) }
            #expect(!all.isEmpty && all.allSatisfy(Self.supportedExamples.contains), "every \(prefix)*.json is checked")
        }
    }

    @Test(arguments: supportedExamples)
    func exampleValidatesClean(_ name: String) throws {
        let resource = try TestFiles.json(TestFiles.usCoreExamples.appendingPathComponent(name))
        let issues = StructuralValidator.validate(resource, expectedType: resource["resourceType"]?.stringValue)
        #expect(issues.isEmpty, "\(name): \(issues.map { "\($0.code.rawValue) \($0.expression) \($0.diagnostics)" })")
    }

    /// A quick measurement of the cost of validating the CBC report (no assertion on the time).
    @Test func measureCBCValidation() throws {
        let report = try TestFiles.json(TestFiles.usCoreExamples.appendingPathComponent("DiagnosticReport-cbc.json"))
        _ = StructuralValidator.validate(report, expectedType: "DiagnosticReport")
        let rounds = 200
        let clock = ContinuousClock()
        var issueCount = 0
        let elapsed = clock.measure {
            for _ in 0..<rounds { issueCount += StructuralValidator.validate(report, expectedType: "DiagnosticReport").count }
        }
        #expect(issueCount == 0)
        print("DiagnosticReport-cbc: \(elapsed / rounds) per validation (average of \(rounds))")
    }
}
