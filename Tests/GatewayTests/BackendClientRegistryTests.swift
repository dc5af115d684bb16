import FHIRModels
import Foundation
import GatewayApp
import GatewayAuth
import GatewayConfig
@testable import GatewayStore
import Testing

/// Backend clients in the tenant document: strict checks naming the field, the same document through
/// the configuration file, the admin API, the registry operations and the `clients` command, every
/// change audited in the admin chain.
@Suite struct BackendClientRegistryTests {
    static let keys = #"{"keys": [{"kty": "EC", "crv": "P-384", "kid": "k1", "x": "AA", "y": "BB"}]}"#

    static func document(_ clients: String) -> String {
        #"{"name": "X", "issuer": "development", "audience": "x", "backend_clients": \#(clients)}"#
    }

    static func parse(_ clients: String) throws -> TenantConfiguration {
        try TenantDocument.parse(try JSONParser.parse(document(clients)), slug: "acme", developmentIssuer: "https://fhir.test/dev-issuer")
    }

    @Test(arguments: [
        (#"{}"#, "backend_clients"),
        (#"[{"jwks_url": "https://a.test/k", "scopes": ["system/*.rs"]}]"#, "backend_clients[0].client_id"),
        (#"[{"client_id": "a b", "jwks_url": "https://a.test/k", "scopes": ["system/*.rs"]}]"#, "backend_clients[0].client_id"),
        (#"[{"client_id": "\#(String(repeating: "a", count: 129))", "jwks_url": "https://a.test/k", "scopes": ["system/*.rs"]}]"#, "backend_clients[0].client_id"),
        (#"[{"client_id": "a", "jwks_url": "https://a.test/k", "scopes": ["system/*.rs"]}, {"client_id": "a", "jwks_url": "https://a.test/k", "scopes": ["system/*.rs"]}]"#, "backend_clients[1].client_id"),
        (#"[{"client_id": "a", "jwks_url": "http://a.test/k", "scopes": ["system/*.rs"]}]"#, "backend_clients[0].jwks_url"),
        (#"[{"client_id": "a", "jwks_url": "ftp://127.0.0.1/k", "scopes": ["system/*.rs"]}]"#, "backend_clients[0].jwks_url"),
        (#"[{"client_id": "a", "scopes": ["system/*.rs"]}]"#, "backend_clients[0].jwks_url"),
        (#"[{"client_id": "a", "jwks_url": "https://a.test/k", "jwks": \#(keys), "scopes": ["system/*.rs"]}]"#, "backend_clients[0].jwks_url"),
        (#"[{"client_id": "a", "jwks": {"keys": []}, "scopes": ["system/*.rs"]}]"#, "backend_clients[0].jwks"),
        (#"[{"client_id": "a", "jwks_url": "https://a.test/k"}]"#, "backend_clients[0].scopes"),
        (#"[{"client_id": "a", "jwks_url": "https://a.test/k", "scopes": []}]"#, "backend_clients[0].scopes"),
        (#"[{"client_id": "a", "jwks_url": "https://a.test/k", "scopes": ["patient/*.rs"]}]"#, "backend_clients[0].scopes[0]"),
        (#"[{"client_id": "a", "jwks_url": "https://a.test/k", "scopes": ["system/*.rs", "launch"]}]"#, "backend_clients[0].scopes[1]"),
        (#"[{"client_id": "a", "jwks_url": "https://a.test/k", "scopes": ["system/*.rs"], "secret": "x"}]"#, "backend_clients[0].secret"),
        (#"[{"client_id": "a", "name": "", "jwks_url": "https://a.test/k", "scopes": ["system/*.rs"]}]"#, "backend_clients[0].name"),
        ("[" + Array(repeating: #"{"client_id": "a", "jwks_url": "https://a.test/k", "scopes": ["system/*.rs"]}"#, count: 101).joined(separator: ",") + "]", "backend_clients"),
    ])
    func badClientsAreRefusedNamingTheField(clients: String, field: String) throws {
        #expect(throws: ConfigurationError.self) { try Self.parse(clients) }
        do { _ = try Self.parse(clients) } catch let error as ConfigurationError { #expect(error.field == field, "\(error)") }
    }

    @Test func clientsRoundTripAndGrantOnlyWhatTheyAreRegisteredFor() throws {
        let tenant = try Self.parse(#"""
            [{"client_id": "lab-engine", "name": "Lab", "jwks": \#(Self.keys), "scopes": ["system/*.rs", "system/Observation.cu"]},
             {"client_id": "ehr.pull_1~", "jwks_url": "http://127.0.0.1:9/jwks.json", "scopes": ["system/Patient.read"]}]
            """#)
        #expect(tenant.backendClients.map(\.clientID) == ["lab-engine", "ehr.pull_1~"])
        let again = try TenantDocument.parse(TenantDocument.render(tenant), slug: "acme", developmentIssuer: "https://fhir.test/dev-issuer")
        #expect(again == tenant)
        let lab = tenant.backendClients[0]
        #expect(lab.grant("system/Patient.rs system/Observation.c system/Observation.cud system/AuditEvent.rs user/Patient.rs system/Patient.rs")
                == ["system/Patient.rs", "system/Observation.c"])
        #expect(lab.grant("system/Patient.cruds openid").isEmpty)
        #expect(tenant.backendClients[1].grant("system/Patient.r system/Patient.rs system/Patient.s system/*.rs") == ["system/Patient.r", "system/Patient.rs", "system/Patient.s"])
        #expect(BackendClient.isAcceptableKeySetURL("http://localhost:8080/k") && BackendClient.isAcceptableKeySetURL("http://[::1]/k"))
        #expect(!BackendClient.isAcceptableKeySetURL("http://127.0.0.1.example.org/k"))
        #expect(!BackendClient.isAcceptableKeySetURL("http://localhost.example.org/k"))
        #expect(!BackendClient.isAcceptableKeySetURL("http://user@127.0.0.1/k"))
    }

    /// A kid that two keys carry names neither: no token is verified by a guess between them.
    @Test func aKidOfTwoKeysNamesNone() async throws {
        let keys = JSON.object(["keys": .array([BackendClientKeys.jwk(ec: BackendClientKeys.ec, kid: "same"),
                                                BackendClientKeys.jwk(ec: BackendClientKeys.strangerEC, kid: "same"),
                                                BackendClientKeys.jwk(ec: BackendClientKeys.urlEC, kid: "other")])])
        let set = try await TenantKeySet.parse(jwks: keys.serialized)
        #expect(set.keyIDs == ["other"])
        #expect(set.ambiguousKeyIDs == ["same"])
    }

    @Test func theConfigurationFileCarriesClientsAndTheSigningKeyFile() throws {
        let yaml = """
        development_issuer:
          key_file: /var/lib/gw/dev.pem
        tenants:
          - slug: acme
            issuer: development
            audience: https://fhir.test/acme/r4
            backend_clients:
              - client_id: lab-engine
                jwks_url: https://lab.example.org/.well-known/jwks.json
                scopes: [system/Observation.cu, system/Patient.rs]
        """
        let configuration = try ConfigurationLoader.load(yaml: yaml)
        #expect(configuration.backendSigningKeyFile == "/var/lib/gw/backend-services-key.pem", "beside the development key by default")
        #expect(configuration.tenants[0].backendClients == [BackendClient(clientID: "lab-engine", keys: .url("https://lab.example.org/.well-known/jwks.json"),
                                                                          scopes: ["system/Observation.cu", "system/Patient.rs"])])
        let configured = try ConfigurationLoader.load(yaml: yaml + "\nbackend_services:\n  signing_key_file: /etc/gw/backend.pem\n")
        #expect(configured.backendSigningKeyFile == "/etc/gw/backend.pem")
        #expect(throws: ConfigurationError.self) { try ConfigurationLoader.load(yaml: yaml + "\nbackend_services:\n  key: x\n") }
        do { _ = try ConfigurationLoader.load(yaml: yaml.replacingOccurrences(of: "system/Patient.rs", with: "user/Patient.rs")) } catch {
            #expect(error.field == "tenants[0].backend_clients[0].scopes[1]")
        }
    }

    @Test(arguments: StoreKind.available)
    func adminAPIRegistryAndChainCarryClients(store: StoreKind) async throws {
        try await AdminAPITests.withAdmin(store) { fixture, _, admin in
            let slug = try await AdminAPITests.seededTenant(fixture, prefix: "bcr")
            let lab = #"{"client_id": "lab-engine", "jwks_url": "https://lab.example.org/jwks.json", "scopes": ["system/*.rs"]}"#
            let body = AdminAPITests.document(slug, extra: #", "backend_clients": [\#(lab)]"#)
            let created = try await admin.send("PUT", "/admin/tenants/\(slug)", body: body)
            expectStatus(created, 201, "\(created.body)")
            #expect((created.json["backend_clients"] as? [[String: Any]])?.first?["client_id"] as? String == "lab-engine")
            let unusable = AdminAPITests.document(slug, extra: #", "backend_clients": [{"client_id": "x", "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "s"}]}, "scopes": ["system/*.rs"]}]"#)
            let refused = try await admin.send("PUT", "/admin/tenants/\(slug)", body: unusable)
            expectStatus(refused, 400)
            #expect(refused.body.contains("backend_clients[0].jwks"), "\(refused.body)")
            let twice = BackendClientKeys.jwk(ec: BackendClientKeys.ec, kid: "same").serializedString
            let ambiguous = AdminAPITests.document(slug, extra: #", "backend_clients": [{"client_id": "x", "jwks": {"keys": [\#(twice), \#(twice)]}, "scopes": ["system/*.rs"]}]"#)
            let refusedTwice = try await admin.send("PUT", "/admin/tenants/\(slug)", body: ambiguous)
            expectStatus(refusedTwice, 400)
            #expect(refusedTwice.body.contains("two keys have kid 'same'"), "\(refusedTwice.body)")
            let patched = try await admin.send("PATCH", "/admin/tenants/\(slug)", body: #"{"backend_clients": null}"#, contentType: "application/merge-patch+json")
            expectStatus(patched, 200)
            #expect(patched.json["backend_clients"] == nil)

            let registry = TenantRegistry(repository: fixture.repository, developmentIssuer: fixture.configuration.developmentIssuer)
            let actor = TenantRegistry.Actor(subject: "cli:tester")
            let added = try await registry.addBackendClient(slug, client: try JSONParser.parse(lab), actor: actor)
            #expect(added.backendClients.map(\.clientID) == ["lab-engine"])
            await #expect(throws: TenantRegistry.Failure.self) { _ = try await registry.addBackendClient(slug, client: try JSONParser.parse(lab), actor: actor) }
            let removed = try await registry.removeBackendClient(slug, clientID: "lab-engine", actor: actor)
            #expect(removed.backendClients.isEmpty)
            await #expect(throws: TenantRegistry.Failure.self) { _ = try await registry.removeBackendClient(slug, clientID: "lab-engine", actor: actor) }

            try await fixture.repository.sealAdminAudit()
            let trail = try await fixture.repository.auditEvents(tenantID: HMSRepository.adminChainTenantID, after: 0, limit: 1_000_000)
            let mine = trail.filter { ($0.string("body") ?? "").contains("\"value\":\"\(slug)\"") }.compactMap { $0.string("subtype") }
            #expect(mine == ["tenant-put", "tenant-patch", "backend-client-add", "backend-client-remove"], "\(mine)")
        }
    }

    /// The `clients` command of the built binary, on a SQLite store of its own.
    @Test func clientsCommandAddsListsAndRemoves() throws {
        let directory = try GatewayFixture.makeDirectory()
        let config = "\(directory)/gateway.yaml"
        try """
        database:
          url: \(directory)/gateway.sqlite
        development_issuer:
          key_file: \(directory)/dev-key.pem
        admin:
          enabled: false
        """.write(toFile: config, atomically: true, encoding: .utf8)
        try #"{"slug": "acme", "name": "Acme", "issuer": "development", "audience": "https://fhir.test/acme/r4"}"#
            .write(toFile: "\(directory)/acme.json", atomically: true, encoding: .utf8)
        try #"{"keys": [{"kty": "EC", "crv": "P-384", "kid": "lab-ec", "alg": "ES384", "x": "\#(TestKeys.base64URL(Array(BackendClientKeys.ec.publicKey.x963Representation.dropFirst())[0..<48]))", "y": "\#(TestKeys.base64URL(Array(BackendClientKeys.ec.publicKey.x963Representation.dropFirst())[48..<96]))"}]}"#
            .write(toFile: "\(directory)/lab-jwks.json", atomically: true, encoding: .utf8)
        func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: ReplicaTests.binary)
            process.arguments = arguments + ["--config", config]
            var environment = ProcessInfo.processInfo.environment
            environment.removeValue(forKey: "DATABASE_URL")
            environment.removeValue(forKey: "DATABASE_MIGRATION_URL")
            environment["LOG_LEVEL"] = "error"
            process.environment = environment
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self))
        }
        #expect(try run(["migrate"]).status == 0)
        #expect(try run(["tenants", "apply", "-f", "\(directory)/acme.json"]).status == 0)
        let added = try run(["clients", "add", "--tenant", "acme", "--client-id", "lab-engine", "--name", "Lab engine",
                             "--jwks-file", "\(directory)/lab-jwks.json", "--scope", "system/*.rs", "--scope", "system/Observation.cu"])
        #expect(added.status == 0, "\(added.output)")
        let url = try run(["clients", "add", "--tenant", "acme", "--client-id", "ehr", "--jwks-url", "https://ehr.example.org/jwks.json",
                           "--scope", "system/Patient.rs"])
        #expect(url.status == 0, "\(url.output)")
        let bad = try run(["clients", "add", "--tenant", "acme", "--client-id", "x", "--jwks-url", "https://x.test/k", "--scope", "patient/*.rs"])
        #expect(bad.status != 0 && bad.output.contains("backend_clients[2].scopes[0]"), "\(bad.output)")
        let listed = try run(["clients", "list", "--tenant", "acme"])
        #expect(listed.output.contains("lab-engine\tinline jwks\tsystem/*.rs system/Observation.cu\tLab engine"), "\(listed.output)")
        #expect(listed.output.contains("ehr\thttps://ehr.example.org/jwks.json\tsystem/Patient.rs"), "\(listed.output)")
        #expect(try run(["clients", "remove", "--tenant", "acme", "--client-id", "lab-engine"]).status == 0)
        let after = try run(["clients", "list", "--tenant", "acme", "--json"])
        #expect(!after.output.contains("lab-engine") && after.output.contains("\"client_id\":\"ehr\""), "\(after.output)")
        let missing = try run(["clients", "remove", "--tenant", "acme", "--client-id", "lab-engine"])
        #expect(missing.status != 0)
    }
}
