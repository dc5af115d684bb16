import FHIRModels
import Foundation
import GatewayApp
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// Runs every case in conformance/ against the in-process application, on each store.
@Suite struct ConformanceTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("conformance").path

    @Test(arguments: StoreKind.available)
    func conformanceCasesPass(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let cases = try ConformanceSuite.load(directory: Self.directory)
        #expect(cases.count >= 40)
        try await fixture.withClient { client in
            let runner = ConformanceRunner(
                publicBase: TestTenants.publicBase,
                tenantClaims: Dictionary(uniqueKeysWithValues: fixture.configuration.tenants.map { ($0.slug, $0.tenantClaim) }),
                tenantTypes: Dictionary(uniqueKeysWithValues: fixture.configuration.tenants.map { ($0.slug, $0.resourceTypes) }),
                send: { method, path, headers, body in
                    var fields = HTTPFields()
                    for (name, value) in headers { fields.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
                    let response = try await client.execute(uri: path, method: HTTPRequest.Method(method)!, headers: fields,
                                                            body: body.map { ByteBuffer(string: $0) })
                    var replyHeaders: [String: String] = [:]
                    for field in response.headers { replyHeaders[field.name.canonicalName] = field.value }
                    return .init(status: Int(response.status.code), headers: replyHeaders, body: String(buffer: response.body))
                },
                mint: { tenant, scope, claims in
                    fixture.token(tenant, scope: scope, claims: Dictionary(uniqueKeysWithValues: claims.members.map { member in
                        (member.key, member.value == .null ? nil : Optional(member.value))
                    }))
                })
            for (tenant, other) in [("acme", "globex"), ("initech", "acme"), ("globex", "initech")] {
                for outcome in try await runner.run(cases, tenant: tenant, other: other) {
                    #expect(outcome.passed, "\(outcome)")
                }
            }
        }
    }
}
