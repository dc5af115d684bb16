import ArgumentParser
import FHIRModels
import Foundation
import GatewayConfig
import GatewayStore

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Check or export a tenant's audit trail.", subcommands: [Verify.self, Export.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check the hash chain and name the first broken record.")
        @OptionGroup var options: ConfigurationOptions
        @Option(help: "Tenant slug.") var tenant: String

        func run() async throws {
            let (configuration, _) = try options.load()
            let slug = tenant
            let result = try await HMSRepository.withOpen(configuration.database, logger: GatewayLogging.logger()) { repository in
                guard let tenantID = try await repository.tenantIDs()[slug] else { throw ValidationError("no tenant '\(slug)' in the store") }
                return try await repository.verifyAudit(tenantID: tenantID)
            }
            if let broken = result.firstBreak {
                print("audit trail of \(slug) is BROKEN at \(broken) (\(result.count) records verified before it)")
                throw ExitCode.failure
            }
            print("audit trail of \(slug) is intact: \(result.count) records")
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write the tenant's AuditEvents as NDJSON to standard output.")
        @OptionGroup var options: ConfigurationOptions
        @Option(help: "Tenant slug.") var tenant: String
        @Option(help: "Only records on or after this FHIR date or dateTime.") var since: String?

        func run() async throws {
            let (configuration, _) = try options.load()
            var lower: Int64 = .min
            if let since {
                guard let parsed = FHIRDateTime.parse(since) else { throw ValidationError("--since must be a FHIR date such as 2026-11-01") }
                lower = parsed.lower
            }
            let slug = tenant
            let threshold = lower
            try await HMSRepository.withOpen(configuration.database, logger: GatewayLogging.logger()) { repository in
                guard let tenantID = try await repository.tenantIDs()[slug] else { throw ValidationError("no tenant '\(slug)' in the store") }
                var after: Int64 = 0
                while true {
                    let rows = try await repository.auditEvents(tenantID: tenantID, after: after, limit: 1000)
                    guard let last = rows.last?.integer("sequence") else { break }
                    for row in rows where (row.integer("recorded") ?? 0) >= threshold {
                        if let body = row.string("body") { FileHandle.standardOutput.write(Data((body + "\n").utf8)) }
                    }
                    after = last
                }
            }
        }
    }
}
