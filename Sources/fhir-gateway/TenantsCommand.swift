import BulkExport
import ArgumentParser
import FHIRModels
import Foundation
import GatewayApp
import GatewayConfig
import GatewayStore

/// The tenant registry from the command line: the admin API's operations, run directly against the
/// database (running gateways pick the changes up within `server.registry_poll_milliseconds`).
struct TenantsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenants", abstract: "List, show, apply, suspend, resume or delete tenants in the registry.",
        subcommands: [List.self, Get.self, Apply.self, Suspend.self, Resume.self, Delete.self, Move.self])

    /// Runs `body` with the registry of the configured store; registry refusals become plain messages.
    static func withRegistry<T: Sendable>(_ options: ConfigurationOptions,
                                          _ body: @Sendable (TenantRegistry, TenantRegistry.Actor) async throws -> T) async throws -> T {
        let (configuration, _) = try options.load()
        let actor = TenantRegistry.Actor(subject: "cli:" + (ProcessInfo.processInfo.environment["USER"] ?? "unknown"))
        let logger = GatewayLogging.logger()
        // Every store is opened: a delete purges the tenant's own store, a move reads and writes two.
        var stores: [String: HMSRepository] = [:]
        var runners: [Task<Void, Never>] = []
        defer { for runner in runners { runner.cancel() } }
        for (name, database) in configuration.stores {
            let repository = try await HMSRepository.open(database, logger: logger, connections: HMSRepository.commandConnections)
            runners.append(Task { await repository.run() })
            stores[name] = repository
        }
        let opened = stores
        do {
            return try await HMSRepository.withOpen(configuration.database, logger: logger) { repository in
                try await body(TenantRegistry(repository: repository, developmentIssuer: configuration.developmentIssuer, stores: opened,
                                              exportFiles: try? DirectoryFileStorage(root: configuration.export.directory)), actor)
            }
        } catch let failure as TenantRegistry.Failure {
            switch failure {
            case .notFound: throw ValidationError("no such tenant")
            case .invalid(let field, let problem): throw ValidationError("\(field): \(problem)")
            case .conflict(let message): throw ValidationError(message)
            }
        }
    }

    static func printJSON(_ json: JSON) {
        print(json.serializedString)
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tenants (slug, tier, status, agreement, name).")
        @OptionGroup var options: ConfigurationOptions
        @Option(help: "Only this tier.") var tier: String?
        @Option(help: "Only this status (active or suspended).") var status: String?
        @Flag(help: "Print the tenants' documents as JSON lines.") var json = false

        func run() async throws {
            let tier = try tier.map { value in
                guard let tier = TenantConfiguration.Tier(rawValue: value) else { throw ValidationError("--tier must be enterprise, professional or starter") }
                return tier
            }
            let status = try status.map { value in
                guard let status = TenantConfiguration.Status(rawValue: value) else { throw ValidationError("--status must be active or suspended") }
                return status
            }
            let json = self.json
            try await TenantsCommand.withRegistry(options) { registry, _ in
                var after: String?
                repeat {
                    let page = try await registry.list(after: after, tier: tier, status: status, count: 1000)
                    for tenant in page.tenants {
                        if json {
                            TenantsCommand.printJSON(TenantDocument.render(tenant))
                        } else {
                            let agreement: String
                            switch tenant.baa?.standing() {
                            case .inForce(let days?)?: agreement = "baa \(tenant.baa!.version), \(days) days left"
                            case .inForce?: agreement = "baa \(tenant.baa!.version)"
                            case .notYetInForce?: agreement = "baa not yet in force"
                            case .expired?: agreement = "baa EXPIRED"
                            case nil: agreement = "NO BAA"
                            }
                            print([tenant.slug, tenant.tier.rawValue, tenant.status.rawValue, agreement, tenant.name].joined(separator: "\t"))
                        }
                    }
                    after = page.next
                } while after != nil
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print one tenant's document (JSON).")
        @OptionGroup var options: ConfigurationOptions
        @Argument(help: "Tenant slug.") var slug: String

        func run() async throws {
            let slug = self.slug
            try await TenantsCommand.withRegistry(options) { registry, _ in
                guard let tenant = try await registry.get(slug) else { throw TenantRegistry.Failure.notFound }
                TenantsCommand.printJSON(TenantDocument.render(tenant))
            }
        }
    }

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or replace tenants from a JSON file: one tenant document, a list of them, or {\"tenants\": [...]}.",
            discussion: "Each document is what `GET /admin/tenants/{slug}` returns (slug required). Unchanged tenants are left as they are.")
        @OptionGroup var options: ConfigurationOptions
        @Option(name: .shortAndLong, help: "The JSON file.") var file: String

        func run() async throws {
            guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read '\(file)'") }
            let json: JSON
            do { json = try JSONParser.parse([UInt8](data), maximumDepth: 16) } catch {
                throw ValidationError("'\(file)' is not valid JSON: \(error.message) at byte \(error.offset)")
            }
            let documents: [JSON]
            switch json {
            case .array(let items): documents = items
            case .object(let object) where object["tenants"]?.arrayValue != nil: documents = object["tenants"]!.arrayValue!
            case .object: documents = [json]
            default: throw ValidationError("expected a tenant document, a list of them, or {\"tenants\": [...]}")
            }
            try await TenantsCommand.withRegistry(options) { registry, actor in
                for (index, document) in documents.enumerated() {
                    guard let slug = document["slug"]?.stringValue else { throw ValidationError("tenant \(index + 1): slug is required") }
                    let (outcome, _) = try await registry.put(slug, document: document, actor: actor)
                    print("\(slug)\t\(outcome.rawValue)")
                }
            }
        }
    }

    static func setStatus(_ options: ConfigurationOptions, slug: String, _ status: TenantConfiguration.Status) async throws {
        try await withRegistry(options) { registry, actor in
            let (outcome, _) = try await registry.setStatus(slug, status, actor: actor)
            print("\(slug)\t\(status.rawValue) (\(outcome.rawValue))")
        }
    }

    struct Suspend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Suspend a tenant: its data routes answer 403 at once.")
        @OptionGroup var options: ConfigurationOptions
        @Argument(help: "Tenant slug.") var slug: String

        func run() async throws { try await TenantsCommand.setStatus(options, slug: slug, .suspended) }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a suspended tenant.")
        @OptionGroup var options: ConfigurationOptions
        @Argument(help: "Tenant slug.") var slug: String

        func run() async throws { try await TenantsCommand.setStatus(options, slug: slug, .active) }
    }

    struct Move: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move a tenant's data to another store (PostgreSQL to PostgreSQL, as each store's schema owner).",
            discussion: """
            Copies every row of the tenant from a consistent snapshot while it is served as usual; pauses its writes (503 with Retry-After)             and copies what was written meanwhile; switches the tenant to the new store while holding the new store's audit chain lock,             and copies the old store's chain tail; resumes writes; verifies row counts in every table and the audit chain; then removes             the tenant's rows from the old store. Reads are served throughout. The HMS must write the tenant's records to the new store             from the switch on (stop its writes for the tenant during the move).
            """)
        @OptionGroup var options: ConfigurationOptions
        @Argument(help: "Tenant slug.") var slug: String
        @Option(help: "The store to move to (a name under `stores`, or `shared`).") var to: String

        func run() async throws {
            let (configuration, _) = try options.load()
            let slug = self.slug
            let target = to
            try await TenantsCommand.withRegistry(options) { registry, actor in
                let started = Date()
                try await TenantMove(registry: registry, configuration: configuration, logger: GatewayLogging.logger())
                    .run(slug: slug, to: target, actor: actor) { step in
                        print(String(format: "%6.1f s  %@: %@", Date().timeIntervalSince(started), step.name, step.detail))
                    }
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Offboard a tenant. Refused while the gateway holds its lab results or audit trail, unless --purge.",
            discussion: "--purge removes every row the gateway holds for the tenant (stored resources, their versions and search tokens, its audit trail) in the same transaction as the delete, recorded in the admin audit chain. Export what must be kept first (`audit export`). The HMS's own records are the HMS's.")
        @OptionGroup var options: ConfigurationOptions
        @Argument(help: "Tenant slug.") var slug: String
        @Flag(help: "Remove the tenant's rows too.") var purge = false

        func run() async throws {
            let slug = self.slug
            let purge = self.purge
            try await TenantsCommand.withRegistry(options) { registry, actor in
                let removed = try await registry.delete(slug, purge: purge, actor: actor)
                print("\(slug)\tdeleted" + (purge ? " (purged \(removed.storedResources) stored resources, \(removed.auditRecords) audit records)" : ""))
            }
        }
    }
}
