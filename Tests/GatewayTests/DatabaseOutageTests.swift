import Foundation
@testable import GatewayStore
import HummingbirdTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// PostgreSQL stopped and started under a running gateway. Runs only when the test script says
/// how to stop and start the throwaway cluster, in a step of its own (it takes the database away
/// from every other test).
@Suite(.enabled(if: OutageControl.stop != nil)) struct DatabaseOutageTests {

    @Test func anOutageIsA503WithinTwoSecondsAndServiceReturnsWithinFive() async throws {
        let fixture = try await GatewayFixture.shared(.postgres)
        let token = fixture.token("acme")
        let patient = GatewayFixture.patientID("acme", 3)
        try await fixture.withClient { client in
            expectStatus(try await client.get("/acme/r4/Patient/\(patient)", token: token), 200)
            for cycle in 1...3 {
                try OutageControl.shell(try #require(OutageControl.stop))
                let clock = ContinuousClock()
                var started = clock.now
                let down = try await client.get("/acme/r4/Patient/\(patient)", token: token)
                expectStatus(down, 503, "cycle \(cycle)")
                #expect(clock.now - started < .seconds(2), "cycle \(cycle): the first request during an outage fails fast")
                #expect(down.issueCode == "transient")
                expectStatus(try await client.get("/readyz"), 503)
                started = clock.now
                let later = try await client.get("/acme/r4/Patient/\(patient)", token: token)
                expectStatus(later, 503)
                #expect(clock.now - started < .milliseconds(500), "later requests fail at once")

                try OutageControl.shell(try #require(OutageControl.start))
                started = clock.now
                var recovered = false
                while !recovered, clock.now - started < .seconds(10) {
                    recovered = try await client.get("/acme/r4/Patient/\(patient)", token: token).status == 200
                    if !recovered { try await Task.sleep(for: .milliseconds(100)) }
                }
                #expect(recovered && clock.now - started < .seconds(5), "cycle \(cycle): served again within 5 s of the database returning")
                expectStatus(try await client.get("/readyz"), 200)
            }
            if let connections = OutageControl.connections {
                let open = Int(try OutageControl.shell(connections, capture: true)) ?? -1
                // The pool keeps a fixed set of connections: at most the current client's, the
                // client being retired after the last outage, and the probe's own connection.
                let bound = 2 * PostgresBackend.maximumConnections + 1
                #expect(open >= 0 && open <= bound, "no connections leak across outages: \(open) open")
            }
        }
    }
}

/// How the test script stops and starts its cluster.
enum OutageControl {
    static let environment = ProcessInfo.processInfo.environment
    static let stop = environment["FHIR_TEST_PG_STOP"]
    static let start = environment["FHIR_TEST_PG_START"]
    static let connections = environment["FHIR_TEST_PG_CONNECTIONS"]

    /// Runs `command` with `/bin/sh` and waits for it (posix_spawn and waitpid: Foundation's Process
    /// can wait forever on a command that leaves a server running). Output goes to a file, read back.
    @discardableResult
    static func shell(_ command: String, capture: Bool = false) throws -> String {
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("outage-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let arguments = ["/bin/sh", "-c", "(\(command)) > \(outputPath) 2>&1 < /dev/null"]
        var pid: pid_t = 0
        let cArguments = arguments.map { strdup($0) } + [nil]
        defer { for argument in cArguments { free(argument) } }
        let spawned = posix_spawn(&pid, "/bin/sh", nil, nil, cArguments, environ)
        guard spawned == 0 else { throw CocoaError(.executableLoad) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        return capture ? ((try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines) : ""
    }
}
