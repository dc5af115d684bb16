import ArgumentParser
import GatewayConfig
import GatewayStore

struct SeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed", abstract: "Fill the configured store with deterministic synthetic HMS data.")

    @OptionGroup var options: ConfigurationOptions
    @Option(help: "Comma-separated tenant slugs.") var tenants: String
    @Option(help: "Patients per tenant.") var patients = 100

    func run() async throws {
        let logger = GatewayLogging.logger()
        let (configuration, _) = try options.load()
        let slugs = tenants.split(separator: ",").map(String.init)
        guard !slugs.isEmpty, slugs.allSatisfy(TenantConfiguration.isValidSlug) else {
            throw ValidationError("--tenants must be comma-separated slugs (lowercase letters, digits, hyphens)")
        }
        guard patients >= 0 else { throw ValidationError("--patients must not be negative") }
        let named = slugs.map { slug in (slug: slug, name: configuration.tenant(slug: slug)?.name ?? slug.capitalized) }
        let patients = self.patients
        let summary = try await HMSRepository.withOpen(configuration.database, logger: logger) { repository in
            try await repository.migrate()
            return try await HMSSeeder(repository: repository).seed(tenants: named, patientsPerTenant: patients, logger: logger)
        }
        print(summary)
    }
}

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "Create or upgrade the HMS schema (PostgreSQL: as the migration role).")

    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        let logger = GatewayLogging.logger()
        let (configuration, _) = try options.load()
        try await HMSRepository.withOpen(configuration.database, logger: logger) { repository in
            try await repository.migrate()
        }
        print("schema is up to date")
    }
}
