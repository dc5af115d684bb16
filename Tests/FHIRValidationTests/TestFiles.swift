import FHIRModels
import Foundation

/// Where the tests find the repository, the shared FHIR reference data and their fixtures.
enum TestFiles {
    static let testDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let repositoryRoot = testDirectory.deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = testDirectory.appendingPathComponent("Fixtures")

    /// `$FHIR_SHARED`, or `../shared/fhir` beside the checkout.
    static let shared: URL = {
        if let path = ProcessInfo.processInfo.environment["FHIR_SHARED"] { return URL(fileURLWithPath: path) }
        return repositoryRoot.appendingPathComponent("../shared/fhir").standardizedFileURL
    }()

    static let usCoreExamples = shared.appendingPathComponent("us-core/examples")

    static func json(_ url: URL) throws -> JSON {
        try JSONParser.parse(Array(Data(contentsOf: url)))
    }

    static func fixture(_ name: String) throws -> JSON {
        try json(fixtures.appendingPathComponent(name))
    }

    /// The US Core example files, by name (empty if the shared data is missing; a test checks it is not).
    static func usCoreExampleNames() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: usCoreExamples.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted()
    }
}
