import Foundation
import GatewayApp
import GatewayConfig
import Testing

@Suite struct ConfigurationTests {
    static let valid = """
    server:
      port: 9090
      public_base_url: https://fhir.example.org/
    tenants:
      - slug: acme
        name: Acme
        tier: enterprise
        issuer: https://idp.example.org
        jwks_file: /nonexistent/jwks.json
        audience: https://fhir.example.org/acme/r4
        resource_types: [Patient, Encounter]
        profile_set: us-core
    """

    @Test func aValidFileLoadsWithDefaults() throws {
        let configuration = try ConfigurationLoader.load(yaml: Self.valid, environment: ["DATABASE_URL": "postgres://gw:pw@db:5432/hms"])
        #expect(configuration.server.publicBaseURL == "https://fhir.example.org")
        #expect(configuration.server.port == 9090)
        #expect(configuration.database == .postgres(url: "postgres://gw:pw@db:5432/hms", migrationURL: nil))
        let tenant = try #require(configuration.tenant(slug: "acme"))
        #expect(tenant.tenantClaim == "tenant_id")
        #expect(tenant.status == .active)
        #expect(tenant.resourceTypes == ["Patient", "Encounter"])
        #expect(tenant.keySource == .file("/nonexistent/jwks.json"))
    }

    @Test func metricsPortAndTracingAreOffUnlessConfigured() throws {
        let plain = try ConfigurationLoader.load(yaml: Self.valid)
        #expect(plain.server.metricsPort == nil)
        #expect(plain.tracing == GatewayConfiguration.Tracing(otlpEndpoint: nil, serviceName: "fhir-gateway"))
        let configured = try ConfigurationLoader.load(yaml: Self.valid.replacingOccurrences(of: "  port: 9090\n", with: "  port: 9090\n  metrics_port: 9464\n")
            + "\ntracing:\n  otlp_endpoint: http://otel-collector:4318\n  service_name: gateway-eu\n")
        #expect(configured.server.metricsPort == 9464)
        #expect(configured.tracing.otlpEndpoint == "http://otel-collector:4318/v1/traces", "a bare collector address gets the traces path")
        #expect(configured.tracing.serviceName == "gateway-eu")
        let explicit = try ConfigurationLoader.load(yaml: Self.valid + "\ntracing:\n  otlp_endpoint: https://collector.example.org/otlp/v1/traces\n")
        #expect(explicit.tracing.otlpEndpoint == "https://collector.example.org/otlp/v1/traces")
    }

    @Test(arguments: [
        ("tenants:\n  - slug: Acme\n    issuer: development\n    audience: a", "tenants[0].slug"),
        ("tenants:\n  - slug: acme\n    audience: a", "tenants[0].issuer"),
        ("tenants:\n  - slug: acme\n    issuer: development", "tenants[0].audience"),
        ("tenants:\n  - slug: acme\n    issuer: development\n    audience: a\n    tier: gold", "tenants[0].tier"),
        ("tenants:\n  - slug: acme\n    issuer: development\n    audience: a\n    status: paused", "tenants[0].status"),
        ("tenants:\n  - slug: acme\n    issuer: development\n    audience: a\n    resource_types: [Patient, Banana]", "tenants[0].resource_types[1]"),
        ("tenants:\n  - slug: acme\n    issuer: https://x\n    audience: a", "tenants[0].jwks_url"),
        ("tenants:\n  - slug: acme\n    issuer: https://x\n    jwks_file: f\n    jwks_url: https://x/j\n    audience: a", "tenants[0].jwks_url"),
        ("tenants:\n  - slug: acme\n    issuer: development\n    audience: a\n    colour: red", "tenants[0].colour"),
        ("tenants:\n  - slug: acme\n    issuer: development\n    audience: a\n  - slug: acme\n    issuer: development\n    audience: b", "tenants[1].slug"),
        ("server:\n  port: 99999\ntenants:\n  - slug: acme\n    issuer: development\n    audience: a", "server.port"),
        ("server:\n  public_base_url: ftp://x\ntenants:\n  - slug: acme\n    issuer: development\n    audience: a", "server.public_base_url"),
        ("tenants: {acme: {}}", "tenants"),
        ("tenants:\n  - slug: acme\n    issuer: development\n    audience: a\n    profile_set: uk-core", "tenants[0].profile_set"),
        ("{ not yaml", "(file)"),
        ("server:\n  metrics_port: 0\ntenants:\n  - slug: acme\n    issuer: development\n    audience: a", "server.metrics_port"),
        ("server:\n  port: 9000\n  metrics_port: 9000\ntenants:\n  - slug: acme\n    issuer: development\n    audience: a", "server.metrics_port"),
        ("tracing:\n  otlp_endpoint: collector:4318\ntenants:\n  - slug: acme\n    issuer: development\n    audience: a", "tracing.otlp_endpoint"),
        ("tracing:\n  service_name: ''\ntenants:\n  - slug: acme\n    issuer: development\n    audience: a", "tracing.service_name"),
        ("tracing:\n  exporter: zipkin\ntenants:\n  - slug: acme\n    issuer: development\n    audience: a", "tracing.exporter"),
        ("export:\n  workers: 65", "export.workers"),
        ("export:\n  poll_seconds: 0", "export.poll_seconds"),
        ("export:\n  file_megabytes: -1", "export.file_megabytes"),
        ("export:\n  resources_per_second: 0", "export.resources_per_second"),
        ("export:\n  lease_seconds: true", "export.lease_seconds"),
        ("export:\n  bucket: s3://x", "export.bucket"),
        ("tiers:\n  starter: {export_jobs: 0}", "tiers.starter.export_jobs"),
        ("tenants:\n  - slug: acme\n    issuer: development\n    audience: a\n    limits: {export_jobs_per_client: 1001}", "tenants[0].limits.export_jobs_per_client"),
    ])
    func badConfigurationNamesTheField(yaml: String, field: String) {
        do {
            _ = try ConfigurationLoader.load(yaml: yaml)
            Issue.record("expected a configuration error at \(field)")
        } catch {
            #expect(error.field == field, "\(error)")
        }
    }

    @Test func startupFailsOnAnUnreadableKeySet() async throws {
        let configuration = try ConfigurationLoader.load(yaml: Self.valid, environment: ["DATABASE_URL": "/tmp/never-opened.sqlite"])
        do {
            _ = try await GatewayApplication.build(configuration: configuration, logger: testLogger)
            Issue.record("start-up should fail")
        } catch let error as ConfigurationError {
            #expect(error.field == "tenants[0].jwks_file")
        }
    }

    @Test func startupFailsOnASymmetricKeyInTheKeySet() async throws {
        let directory = try GatewayFixture.makeDirectory()
        try Data(#"{"keys":[{"kty":"oct","kid":"k","k":"c2VjcmV0"}]}"#.utf8).write(to: URL(fileURLWithPath: "\(directory)/jwks.json"))
        let yaml = Self.valid.replacingOccurrences(of: "/nonexistent/jwks.json", with: "\(directory)/jwks.json")
        let configuration = try ConfigurationLoader.load(yaml: yaml, environment: ["DATABASE_URL": "\(directory)/db.sqlite"])
        do {
            _ = try await GatewayApplication.build(configuration: configuration, logger: testLogger)
            Issue.record("start-up should fail")
        } catch let error as ConfigurationError {
            #expect(error.field == "tenants[0].jwks_file")
            #expect(error.problem.contains("kty"))
        }
    }
}
