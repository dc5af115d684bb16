import ArgumentParser
import GatewayAuth
import GatewayApp
import GatewayConfig
import GatewayStore

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Mint an access token from the development issuer (for trying the API and for tests).")

    @OptionGroup var options: ConfigurationOptions
    @Option(help: "Tenant slug the token is for; a comma-separated list prints one token per line.") var tenant: String?
    @Flag(help: "Mint an admin API token instead (admin issuer must be 'development'); --scope defaults to the admin scope.") var admin = false
    @Option(help: "Subject (sub) of the token.") var subject = "dev-user"
    @Option(help: "SMART scopes, space-separated (default system/*.rs).") var scope: String?
    @Option(help: "Patient id for a patient-context token.") var patient: String?
    @Option(help: "fhirUser claim, for example Practitioner/<id>.") var fhirUser: String?
    @Option(help: "Lifetime in seconds.") var ttl: Int64 = 3600
    @Option(help: "The --host the embedded default server was started with.") var host: String?
    @Option(help: "The --port the embedded default server was started with (issuer and audience URLs include it).") var port: Int?

    func run() async throws {
        let (configuration, _) = try options.load(host: host, port: port)
        guard (1...86400 * 30).contains(ttl) else { throw ValidationError("--ttl must be between 1 second and 30 days") }
        if admin {
            guard configuration.admin.keySource == .development else {
                throw ValidationError("the admin API trusts \(configuration.admin.issuer), not the development issuer; get admin tokens from that issuer")
            }
            let issuer = try await DevelopmentIssuer.loadOrCreate(keyFile: configuration.developmentKeyFile, issuer: configuration.developmentIssuer)
            print(try issuer.mintAdminToken(audience: configuration.admin.audience, scope: scope ?? configuration.admin.scope,
                                            subject: subject, ttlSeconds: ttl))
            return
        }
        guard let tenant else { throw ValidationError("give --tenant SLUG (or --admin)") }
        let scope = self.scope ?? "system/*.rs"
        let registered = try await registeredTenants(configuration, slugs: tenant.split(separator: ",").map(String.init))
        var tenants: [TenantConfiguration] = []
        for slug in tenant.split(separator: ",").map(String.init) {
            guard let tenantConfiguration = registered[slug] ?? configuration.tenant(slug: slug) else {
                throw ValidationError("no tenant '\(slug)' is configured or registered")
            }
            guard tenantConfiguration.keySource == .development else {
                throw ValidationError("tenant '\(slug)' trusts \(tenantConfiguration.issuer), not the development issuer; get tokens from that issuer")
            }
            tenants.append(tenantConfiguration)
        }
        let issuer = try await DevelopmentIssuer.loadOrCreate(keyFile: configuration.developmentKeyFile, issuer: configuration.developmentIssuer)
        for tenantConfiguration in tenants {
            print(try issuer.mintToken(tenant: tenantConfiguration.slug, audience: tenantConfiguration.audience,
                                       tenantClaim: tenantConfiguration.tenantClaim, scope: scope, patient: patient, fhirUser: fhirUser,
                                       subject: subject, ttlSeconds: ttl))
        }
    }

    /// Tenants created through the admin API are in the registry only; a store that cannot be
    /// opened (nothing started yet) leaves the configuration file's tenants.
    private func registeredTenants(_ configuration: GatewayConfiguration, slugs: [String]) async throws -> [String: TenantConfiguration] {
        let found = try? await HMSRepository.withOpen(configuration.database, logger: GatewayLogging.logger()) { repository in
            let registry = TenantRegistry(repository: repository, developmentIssuer: configuration.developmentIssuer)
            var found: [String: TenantConfiguration] = [:]
            for slug in slugs { found[slug] = try? await registry.get(slug) }
            return found
        }
        return found ?? [:]
    }
}
