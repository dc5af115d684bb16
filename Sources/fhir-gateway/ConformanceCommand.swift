import ArgumentParser

struct ConformanceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conformance", abstract: "Run the conformance cases in conformance/ against a live gateway.")

    @Option(help: "Base URL of the live gateway, e.g. http://127.0.0.1:8080") var baseURL: String
    @Option(help: "Folder of conformance case files.") var cases = "conformance"

    func run() async throws {
        throw ValidationError("not yet implemented")
    }
}
