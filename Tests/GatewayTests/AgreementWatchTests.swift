import FHIRModels
import Foundation
@testable import GatewayApp
import GatewayAuth
import GatewayConfig
@testable import GatewayStore
import Testing

/// Business associate agreements ending within 30 days, or not in force, are logged (one line per
/// kind, naming the tenants) and counted in the gauges operators alert on.
@Suite struct AgreementWatchTests {
    @Test func agreementsEndingSoonOrMissingAreLoggedAndCounted() async throws {
        let fixture = try await GatewayFixture.shared(.sqlite)
        let logs = CapturedLogs()
        let documents = TenantDocuments(renderer: try CapabilityStatementRenderer(), developmentJWKS: "https://fhir.test/dev-issuer/jwks.json",
                                        backendIssuer: { "https://fhir.test/\($0)/auth" })
        let verifier = TokenVerifier(developmentIssuer: fixture.developmentIssuer, logger: logs.logger)
        let store = TenantStore(name: "shared", repository: fixture.repository, audit: AuditWriter(repository: fixture.repository))
        let directory = TenantDirectory(configuration: fixture.configuration, documents: documents, verifier: verifier,
                                        repository: fixture.repository, stores: ["shared": store], logger: logs.logger)
        let agreements: [(String, String)] = [
            ("soon", #"{"version": "1", "signed": "2026-01-01", "expires": "2026-12-10"}"#),
            ("later", #"{"version": "1", "signed": "2026-01-01", "expires": "2027-06-30"}"#),
            ("open", #"{"version": "1", "signed": "2026-01-01"}"#),
            ("lapsed", #"{"version": "1", "signed": "2025-01-01", "expires": "2025-12-31"}"#),
            ("none", "null"),
        ]
        var revision: Int64 = 0
        var entries: [HMSRepository.RegistryEntry] = []
        for (slug, agreement) in agreements {
            revision += 1
            let document = #"{"slug": "\#(slug)", "issuer": "development", "audience": "a", "baa": \#(agreement)}"#
            entries.append(HMSRepository.RegistryEntry(slug: slug, document: document, revision: revision, deleted: false, configurationDigest: nil))
        }
        await directory.apply(entries)
        let metrics = GatewayMetrics(knownTypes: [], database: { (0, 0) })
        let watch = RegistrySync(directory: directory, metrics: metrics, interval: .seconds(1), logger: logs.logger)
        watch.checkAgreements(now: try #require(BusinessAssociateAgreement.day("2026-11-30")))

        let ending = try #require(logs.lines("business associate agreements end within 30 days").first)
        #expect(ending["count"] == "1" && ending["tenants"] == "soon (11 days)")
        let missing = try #require(logs.lines("tenants without a business associate agreement in force: their PHI routes answer 403").first)
        #expect(missing["count"] == "2" && missing["tenants"] == "lapsed, none")
        let rendered = metrics.render()
        #expect(rendered.contains("fhir_gateway_tenant_agreements_expiring 1"))
        #expect(rendered.contains("fhir_gateway_tenant_agreements_not_in_force 2"))
        #expect(rendered.contains("fhir_gateway_tenants 5"))
    }
}
