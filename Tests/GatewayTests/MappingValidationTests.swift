import Foundation
import Testing

/// Every mapped resource type, from a US Core tenant and a plain-R4 tenant, checked by the
/// independent validator in tools/ (R4 JSON schema, US Core snapshots, fhirkit when installed).
@Suite struct MappingValidationTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func validate(_ directory: String, profile: String) throws -> (Int32, String) {
        let shared = ProcessInfo.processInfo.environment["FHIR_SHARED"] ?? root.appendingPathComponent("../shared/fhir").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", root.appendingPathComponent("tools/validate_fhir.py").path, "--shared", shared, "--profile", profile, directory]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    @Test(arguments: [("acme", "us-core"), ("globex", "base")])
    func mappedResourcesValidate(tenant: String, profile: String) async throws {
        let fixture = try await GatewayFixture.shared(.sqlite)
        let directory = try GatewayFixture.makeDirectory()
        let types = tenant == "acme" ? ["Patient", "Practitioner", "Encounter", "MedicationRequest", "Organization"] : ["Patient", "Practitioner", "Encounter", "Organization"]
        let token = fixture.token(tenant)
        try await fixture.withClient { client in
            for type in types {
                let bundle = try await client.get("/\(tenant)/r4/\(type)?_count=50", token: token)
                #expect(bundle.resources.count > 0, "\(type)")
                try Data(bundle.body.utf8).write(to: URL(fileURLWithPath: "\(directory)/\(type)-bundle.json"))
                if let id = bundle.matchIDs.first {
                    let read = try await client.get("/\(tenant)/r4/\(type)/\(id)", token: token)
                    try Data(read.body.utf8).write(to: URL(fileURLWithPath: "\(directory)/\(type)-read.json"))
                }
            }
        }
        let (status, output) = try Self.validate(directory, profile: profile)
        #expect(status == 0, "\(output.suffix(3000))")
        #expect(output.contains(" passed, 0 failed"), "\(output.suffix(500))")
    }
}
