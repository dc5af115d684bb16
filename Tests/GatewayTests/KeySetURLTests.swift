import FHIRModels
@testable import GatewayAuth
@testable import GatewayStore
import Foundation
import GatewayApp
import GatewayConfig
import Testing

/// A tenant whose keys come from a JWKS URL: fetched at start, refetched when a new `kid`
/// appears (key rotation), and at most once a minute however many unknown kids arrive.
@Suite struct KeySetURLTests {
    final class KeyServer: @unchecked Sendable {
        let process: Process
        let directory: String
        let port: Int
        let log: String
        let input = Pipe()

        init() throws {
            directory = try GatewayFixture.makeDirectory()
            log = "\(directory)/requests.log"
            let socket = Process()
            socket.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            port = Int.random(in: 20000...40000)
            // The server exits when its standard input closes (``stop()``, or this process ending): a
            // signal would reach only the interpreter launcher (a pyenv shim), leaving the server behind.
            let script = """
            import functools, http.server, os, sys, threading
            threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
            handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[2])
            http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
            """
            socket.arguments = ["python3", "-c", script, String(port), directory]
            socket.standardInput = input
            FileManager.default.createFile(atPath: log, contents: nil)
            socket.standardError = FileHandle(forWritingAtPath: log)
            socket.standardOutput = FileHandle.nullDevice
            process = socket
        }

        func publish(_ keys: [JSON]) throws {
            try Data(JSON.object(["keys": .array(keys)]).serialized).write(to: URL(fileURLWithPath: "\(directory)/jwks.json"))
        }

        func start() async throws {
            try process.run()
            for _ in 0..<50 {
                if (try? Data(contentsOf: URL(string: "http://127.0.0.1:\(port)/jwks.json")!)) != nil { return }
                try await Task.sleep(for: .milliseconds(100))
            }
        }

        var fetches: Int {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            return text.components(separatedBy: "GET /jwks.json").count - 1
        }

        func stop() {
            try? input.fileHandleForWriting.close()
            if process.isRunning { process.terminate() }
        }

        deinit { stop() }
    }

    @Test func rotatedKeysAreFetchedAndUnknownKidsAreRateLimited() async throws {
        let fixture = try await GatewayFixture.shared(.sqlite)
        let server = try KeyServer()
        // The test process may end before the server is released: stop it here, not only in deinit.
        defer { server.stop() }
        try server.publish([TestKeys.jwk(ec: TestKeys.globexEC, kid: "rotating-1")])
        try await server.start()
        let probes = server.fetches
        // Its own store: the changed tenant goes into the registry, which the shared fixture's applications follow.
        var configuration = fixture.configuration
        let directory = try GatewayFixture.makeDirectory()
        configuration.database = .sqlite(path: "\(directory)/keys.sqlite")
        var initech = TenantConfiguration(
            slug: "initech", name: "Initech Care", issuer: "https://sso.initech.test", keySource: .url("http://127.0.0.1:\(server.port)/jwks.json"),
            audience: "initech-api")
        initech.baa = BusinessAssociateAgreement(version: "1", signed: "2026-01-01", expires: nil)
        configuration.tenants = [initech]
        let index = 0
        let repository = try await HMSRepository.open(configuration.database, logger: testLogger)
        let runner = Task { await repository.run() }
        defer { runner.cancel() }
        try await repository.migrate()
        _ = try await HMSSeeder(repository: repository).seed(tenants: [("initech", "Initech Care")], patientsPerTenant: 2, logger: testLogger)
        let application = try await GatewayApplication.build(configuration: configuration, repository: repository, logger: testLogger)
        @Sendable func token(kid: String, key: TestKeys.Signer) -> String {
            let claims = JSON.object(["iss": .string("https://sso.initech.test"), "aud": .string("initech-api"), "tenant_id": .string("initech"),
                                      "exp": .int(Int(GatewayFixture.now + 600)), "scope": .string("system/*.rs")])
            return TestKeys.sign(header: GatewayFixture.header("ES256", kid), claims: claims, with: key)
        }
        let path = "/initech/r4/Organization?_count=1"
        try await application.test(.router) { client in
            expectStatus(try await client.get(path, token: token(kid: "rotating-1", key: .es256(TestKeys.globexEC))), 200)
            #expect(server.fetches == probes + 1, "one fetch at start")
        }

        // Key rotation, with the verifier's clock under the test's control.
        let verifier = try await TokenVerifier.load(configuration: configuration, developmentIssuer: fixture.developmentIssuer, logger: testLogger)
        let tenant = configuration.tenants[index]
        let start = Int64(Date().timeIntervalSince1970)
        let header = { (token: String) in "Bearer \(token)" }
        let tenantID = HMSSeeder.tenantID(slug: "initech")
        let first = header(token(kid: "rotating-1", key: .es256(TestKeys.globexEC)))
        _ = try await verifier.authorize(authorization: first, tenant: tenant, tenantID: tenantID, now: start)
        #expect(server.fetches == probes + 2)
        try server.publish([TestKeys.jwk(ec: TestKeys.acmeEC, kid: "rotating-2")])
        let rotated = header(token(kid: "rotating-2", key: .es256(TestKeys.acmeEC)))
        await #expect(throws: AuthFailure.unknownKey) {
            _ = try await verifier.authorize(authorization: rotated, tenant: tenant, tenantID: tenantID, now: start + 10)
        }
        #expect(server.fetches == probes + 2, "no refetch within a minute of the last fetch")
        _ = try await verifier.authorize(authorization: rotated, tenant: tenant, tenantID: tenantID, now: start + 61)
        #expect(server.fetches == probes + 3, "the new kid is fetched once the minute has passed")
        for attempt in 0..<5 {
            await #expect(throws: AuthFailure.unknownKey) {
                _ = try await verifier.authorize(authorization: header(token(kid: "forged-\(attempt)", key: .es256(TestKeys.strangerEC))),
                                                 tenant: tenant, tenantID: tenantID, now: start + 70)
            }
        }
        #expect(server.fetches == probes + 3, "unknown kids do not make the gateway fetch again within the minute")
        await #expect(throws: AuthFailure.unknownKey, "a verified token of a withdrawn key is not kept alive by the cache") {
            _ = try await verifier.authorize(authorization: first, tenant: tenant, tenantID: tenantID, now: start + 70)
        }
    }
}
