import BulkExport
import FHIRModels
import GatewayApp
import Foundation
@testable import GatewayStore
import HummingbirdTesting
import Testing

/// The whole flow of an EHR's bulk client, on both stores: a backend client is registered, gets a
/// token with its own key (SMART Backend Services), kicks off, polls with back-off, downloads; every
/// line is valid R4 and the counts are the database's. The files at rest open only with the tenant's
/// data key unwrapped by the key-encryption key. Another client of the tenant, and the same job id
/// under another tenant, find nothing.
@Suite struct BulkClientFlowTests {
    static func token(_ client: any TestClientProtocol, slug: String, clientID: String, kid: String, signer: BackendClientKeys.Signer,
                      alg: String) async throws -> String {
        let assertion = BackendClientKeys.assertion(client: clientID, tokenURL: "\(TestTenants.publicBase)/\(slug)/auth/token", kid: kid,
                                                    alg: alg, signer: signer)
        let answer = try await BackendServicesTests.request(client, slug, BackendClientKeys.form(assertion: assertion, scope: "system/*.rs"))
        expectStatus(answer, 200, "\(answer.body)")
        return try #require(answer.json["access_token"] as? String)
    }

    @Test(arguments: StoreKind.available)
    func anEHRRegistersGetsATokenAndExports(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let slug = try await AdminAPITests.seededTenant(fixture, prefix: "bulk", patients: 25)
        let ehrKeys = JSON.object(["keys": .array([BackendClientKeys.jwk(ec: BackendClientKeys.ec, kid: "ehr-ec")])])
        let otherKeys = JSON.object(["keys": .array([BackendClientKeys.jwk(rsa: BackendClientKeys.rsa, kid: "other-rsa")])])
        try await BackendServicesTests.register(fixture, slug, clients: [
            BackendServicesTests.client("ehr-bulk", keys: ehrKeys, scopes: ["system/*.rs"]),
            BackendServicesTests.client("other-app", keys: otherKeys, scopes: ["system/*.rs"]),
        ])
        let tenantID = try #require(try await fixture.repository.hmsTenantIDs(slugs: [slug])[slug])
        let validation = try GatewayFixture.makeDirectory()
        let started = Started()
        try await fixture.withClient { client in
            let token = try await Self.token(client, slug: slug, clientID: "ehr-bulk", kid: "ehr-ec", signer: .es384(BackendClientKeys.ec), alg: "ES384")
            let bulk = BulkClient(client: client, token: token)
            let kickOff = try await bulk.kickOff("/\(slug)/r4/$export")
            expectStatus(kickOff, 202, "\(kickOff.body)")
            let location = try #require(kickOff.header("Content-Location"))
            let manifest = try await bulk.finish(location)
            expectStatus(manifest, 200, "\(manifest.body)")
            let transactionTime = try #require(ExportTests.instant(manifest.json["transactionTime"] as? String ?? ""))
            let outputs = try #require(manifest.json["output"] as? [[String: Any]])
            #expect(Set(outputs.compactMap { $0["type"] as? String }) == ["Patient", "Practitioner", "Encounter", "MedicationRequest", "Organization"])
            let jobID = String(location.split(separator: "/").last ?? "")
            started.jobID = jobID

            let envelope = try DataKeyEnvelope.loadOrCreate(path: fixture.configuration.export.keyEncryptionKeyFile).envelope
            let storage = try DirectoryFileStorage(root: fixture.configuration.export.directory)
            for output in outputs {
                let type = try #require(output["type"] as? String)
                let url = try #require(output["url"] as? String)
                let (answer, lines) = try await bulk.download(url)
                expectStatus(answer, 200)
                #expect(lines.count == output["count"] as? Int)
                #expect(lines.count == (try await ExportTests.count(client, slug, type, before: transactionTime.addingTimeInterval(1), token: token)),
                        "\(type): the database's count at the transaction time")
                try Data(answer.body.utf8).write(to: URL(fileURLWithPath: "\(validation)/\(type).ndjson"))

                // At rest: the file opens with the tenant's data key, unwrapped by the key-encryption key, and nothing else.
                let name = String(url.split(separator: "/").last ?? "")
                let path = "\(tenantID)/\(jobID)/\(name)"
                let repository = fixture.repository
                var wrapped: String?
                let keyID = try Self.keyID(storage: storage, path: path)
                started.keyID = keyID
                wrapped = try await repository.exportDataKey(tenantID: tenantID, keyID: keyID)
                let key = try envelope.unwrap(try #require(wrapped), tenantID: tenantID, keyID: keyID)
                let reader = try EncryptedFileReader(storage: storage, name: path, fileID: path) { _ in key }
                var plain: [UInt8] = []
                while let record = try reader.next() { plain += record }
                #expect(String(decoding: plain, as: UTF8.self) == answer.body)
                #expect(throws: (any Error).self) { try envelope.unwrap(try #require(wrapped), tenantID: UUID().uuidString.lowercased(), keyID: keyID) }
            }

            // The tenant's other client, with a valid token of its own, and the same job id under another tenant: not found.
            let other = try await Self.token(client, slug: slug, clientID: "other-app", kid: "other-rsa", signer: .rs384(BackendClientKeys.rsa), alg: "RS384")
            expectStatus(try await client.get(relative(location), token: other), 404)
            expectStatus(try await client.get(relative(try #require(outputs.first?["url"] as? String)), token: other), 404)
            expectStatus(try await client.send(relative(location), method: .delete, token: other), 404)
            let acme = fixture.token("acme", claims: ["azp": .string("ehr-bulk"), "sub": .string("ehr-bulk")])
            expectStatus(try await client.get("/acme/r4/$export-status/\(jobID)", token: acme), 404)
            expectStatus(try await client.get("/acme/r4/$export-file/\(jobID)/Patient-1.ndjson", token: acme), 404)
            expectStatus(try await client.get("/acme/r4/$export-status/\(jobID)", token: token), 403, "this tenant's token at another tenant")
        }
        let (status, output) = try MappingValidationTests.validate(validation, profile: "base")
        #expect(status == 0, "every exported line is valid R4: \(output.suffix(3000))")
        #expect(output.contains(" passed, 0 failed"))

        // Offboarding with purge removes the tenant's export jobs, keys and files.
        let folder = "\(fixture.configuration.export.directory)/\(tenantID)"
        #expect(FileManager.default.fileExists(atPath: folder))
        let registry = TenantRegistry(repository: fixture.repository, developmentIssuer: fixture.configuration.developmentIssuer,
                                      exportFiles: try DirectoryFileStorage(root: fixture.configuration.export.directory))
        _ = try await registry.delete(slug, purge: true, actor: TenantRegistry.Actor(subject: "bulk-client-flow-test"))
        #expect(!FileManager.default.fileExists(atPath: folder))
        #expect(try await fixture.repository.exportJobForRunner(id: started.jobID, tenantID: tenantID) == nil)
        #expect(try await fixture.repository.exportDataKey(tenantID: tenantID, keyID: started.keyID) == nil)
    }

    /// What the flow started, for the checks after it.
    final class Started: @unchecked Sendable {
        var jobID = ""
        var keyID = ""
    }

    /// The key id in an export file's header.
    static func keyID(storage: DirectoryFileStorage, path: String) throws -> String {
        var found = ""
        _ = try? EncryptedFileReader(storage: storage, name: path, fileID: path) { keyID in
            found = keyID
            throw CancellationError()
        }
        return found
    }
}
