import ArgumentParser
import GatewayAuth
import GatewayConfig

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Mint an access token from the development issuer (for trying the API and for tests).")

    @OptionGroup var options: ConfigurationOptions
    @Option(help: "Tenant slug the token is for; a comma-separated list prints one token per line.") var tenant: String
    @Option(help: "SMART scopes, space-separated.") var scope = "system/*.rs"
    @Option(help: "Patient id for a patient-context token.") var patient: String?
    @Option(help: "fhirUser claim, for example Practitioner/<id>.") var fhirUser: String?
    @Option(help: "Lifetime in seconds.") var ttl: Int64 = 3600
    @Option(help: "The --host the embedded default server was started with.") var host: String?
    @Option(help: "The --port the embedded default server was started with (issuer and audience URLs include it).") var port: Int?

    func run() async throws {
        let (configuration, _) = try options.load(host: host, port: port)
        guard (1...86400 * 30).contains(ttl) else { throw ValidationError("--ttl must be between 1 second and 30 days") }
        var tenants: [TenantConfiguration] = []
        for slug in tenant.split(separator: ",").map(String.init) {
            guard let tenantConfiguration = configuration.tenant(slug: slug) else {
                throw ValidationError("no tenant '\(slug)' is configured")
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
                                       ttlSeconds: ttl))
        }
    }
}
