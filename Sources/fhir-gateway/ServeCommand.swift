import ArgumentParser
import Logging
import Foundation
import GatewayApp
import GatewayAuth
import GatewayConfig
import GatewayStore
import Hummingbird

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Serve the FHIR API.")

    @OptionGroup var options: ConfigurationOptions
    @Option(help: "Address to listen on (default 127.0.0.1).") var host: String?
    @Option(help: "Port to listen on (default 8080).") var port: Int?
    @Option(help: "Synthetic patients per demo tenant when the embedded default seeds itself.") var demoPatients = 200

    func run() async throws {
        let logger = GatewayLogging.logger()
        let (configuration, embedded) = try options.load(host: host, port: port)
        if embedded {
            try await EmbeddedDemo.prepare(configuration: configuration, patients: demoPatients, logger: logger)
        }
        let application = try await GatewayApplication.build(configuration: configuration, logger: logger)
        try await printWelcome(configuration)
        try await application.runService()
    }

    private func printWelcome(_ configuration: GatewayConfiguration) async throws {
        var lines = ["fhir-gateway listening on http://\(configuration.server.host):\(configuration.server.port)"]
        if let metricsPort = configuration.server.metricsPort {
            lines.append("Metrics on http://\(configuration.server.host):\(metricsPort)/metrics")
        }
        if let endpoint = configuration.tracing.otlpEndpoint, var shown = URLComponents(string: endpoint) {
            shown.user = nil
            shown.password = nil
            lines.append("Traces to \(shown.string ?? "the configured OTLP endpoint") as \(configuration.tracing.serviceName)")
        }
        if configuration.admin.enabled {
            lines.append("Admin API on http://\(configuration.admin.host):\(configuration.admin.port)/admin/tenants"
                         + (configuration.admin.keySource == .development ? " (token: fhir-gateway token --admin)" : ""))
        }
        lines.append("Tenants in the configuration file (the registry may hold more):")
        for tenant in configuration.tenants {
            lines.append("  \(tenant.slug.padding(toLength: 10, withPad: " ", startingAt: 0)) \(configuration.server.publicBaseURL)/\(tenant.slug)/r4   \(tenant.name) [\(tenant.status.rawValue)]")
        }
        if let tenant = configuration.tenants.first(where: { $0.keySource == .development && $0.status == .active }) {
            let issuer = try await DevelopmentIssuer.loadOrCreate(keyFile: configuration.developmentKeyFile, issuer: configuration.developmentIssuer)
            let token = try issuer.mintToken(tenant: tenant.slug, audience: tenant.audience, tenantClaim: tenant.tenantClaim,
                                             scope: "system/*.rs", ttlSeconds: 8 * 3600)
            let portOption = configuration.server.port == 8080 ? "" : " --port \(configuration.server.port)"
            lines.append("Try (token valid 8 hours; mint others with `fhir-gateway token --tenant SLUG\(portOption)`):")
            lines.append("  curl -H 'Authorization: Bearer \(token)' '\(configuration.server.publicBaseURL)/\(tenant.slug)/r4/Patient?_count=2'")
        }
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}

/// The embedded default seeds its demo tenants on first start.
enum EmbeddedDemo {
    static func prepare(configuration: GatewayConfiguration, patients: Int, logger: Logger) async throws {
        let summary = try await HMSRepository.withOpen(configuration.database, logger: logger) { repository in
            try await repository.migrate()
            return try await HMSSeeder(repository: repository).seed(
                tenants: configuration.tenants.map { ($0.slug, $0.name) }, patientsPerTenant: patients, logger: logger)
        }
        if summary.tenants > 0 { logger.info("seeded the embedded demo store", metadata: ["summary": "\(summary)"]) }
    }
}
