import ArgumentParser
import FHIRModels
import Foundation
import GatewayApp
import GatewayConfig
import GatewayStore

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Check or export a tenant's audit trail.", subcommands: [Verify.self, Anchor.self, Export.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check the hash chain and name the first broken record.")
        @OptionGroup var options: ConfigurationOptions
        @Option(help: "Tenant slug, or _admin for the admin API's own chain.") var tenant: String
        @Option(help: "An anchor written by 'audit anchor': the anchored record must still be in the chain, unchanged.") var anchor: String?
        @Option(help: "The anchor signing key's public half (<key>.pub); required with --anchor.") var publicKey: String?

        func run() async throws {
            let (configuration, _) = try options.load()
            let slug = tenant
            var anchored: AuditAnchor?
            if let anchor {
                guard let publicKey else { throw ValidationError("--anchor needs --public-key") }
                guard let text = FileManager.default.contents(atPath: anchor).map({ String(decoding: $0, as: UTF8.self) }) else {
                    throw ValidationError("cannot read the anchor '\(anchor)'")
                }
                do {
                    anchored = try AuditAnchor.verified(text, publicKey: try AuditAnchor.publicKey(at: publicKey))
                } catch let error as AuditAnchor.Invalid {
                    throw ValidationError(error.description)
                }
                guard anchored?.tenant == slug else { throw ValidationError("the anchor is for tenant '\(anchored?.tenant ?? "")'") }
            }
            let checked = anchored
            let (result, anchorProblem) = try await AuditCommand.withTrail(configuration, slug: slug) { repository, tenantID in
                let result = try await repository.verifyAudit(tenantID: tenantID)
                guard let checked else { return (result, nil as String?) }
                guard checked.tenantID == tenantID else { return (result, "the anchor names another tenant id") }
                return (result, try await repository.checkAnchor(checked))
            }
            if let broken = result.firstBreak {
                print("audit trail of \(slug) is BROKEN at \(broken) (\(result.count) records verified before it)")
                throw ExitCode.failure
            }
            if let anchorProblem {
                print("audit trail of \(slug) is BROKEN against its anchor: \(anchorProblem)")
                throw ExitCode.failure
            }
            let against = checked.map { " and holds the anchored record \($0.sequence)" } ?? ""
            print("audit trail of \(slug) is intact: \(result.count) records\(against)")
        }
    }

    struct Anchor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign the tenant's current chain head and write it outside the database.",
            discussion: "Run it on a schedule (for example hourly) and keep the anchors where the database's administrators cannot change them. 'audit verify --anchor' then detects deleted or rewritten records up to the anchor.")
        @OptionGroup var options: ConfigurationOptions
        @Option(help: "Tenant slug, or _admin for the admin API's own chain.") var tenant: String
        @Option(help: "Ed25519 signing key file; created (with <file>.pub) if absent.") var signingKey: String
        @Option(help: "Where to write the anchor (JSON).") var output: String

        func run() async throws {
            let (configuration, _) = try options.load()
            let slug = tenant
            let key = try AuditAnchor.signingKey(at: signingKey)
            let anchor = try await AuditCommand.withTrail(configuration, slug: slug) { repository, tenantID -> AuditAnchor in
                guard let head = try await repository.auditHead(tenantID: tenantID) else { throw ValidationError("the audit trail of '\(slug)' is empty") }
                return AuditAnchor(tenant: slug, tenantID: tenantID, sequence: head.sequence, hash: head.hash,
                                   anchoredAt: Int64(Date().timeIntervalSince1970))
            }
            try Data(try anchor.signed(with: key).utf8).write(to: URL(fileURLWithPath: output))
            print("anchored \(slug) at record \(anchor.sequence) in \(output)")
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write the tenant's AuditEvents as NDJSON to standard output.")
        @OptionGroup var options: ConfigurationOptions
        @Option(help: "Tenant slug, or _admin for the admin API's own chain.") var tenant: String
        @Option(help: "Only records on or after this FHIR date or dateTime.") var since: String?
        @Option(help: "Only records of requests confined to this hospital (its Organization id), as AuditEvent.source.site names it.") var hospital: String?

        func run() async throws {
            let (configuration, _) = try options.load()
            var lower: Int64 = .min
            if let since {
                guard let parsed = FHIRDateTime.parse(since) else { throw ValidationError("--since must be a FHIR date such as 2026-11-01") }
                lower = parsed.lower
            }
            let slug = tenant
            let threshold = lower
            let hospital = self.hospital.map { "Organization/" + $0.lowercased() }
            try await AuditCommand.withTrail(configuration, slug: slug) { repository, tenantID in
                var after: Int64 = 0
                while true {
                    let rows = try await repository.auditEvents(tenantID: tenantID, after: after, limit: 1000)
                    guard let last = rows.last?.integer("sequence") else { break }
                    for row in rows where (row.integer("recorded") ?? 0) >= threshold {
                        guard let body = row.string("body") else { continue }
                        if let hospital {
                            let site = (try? JSONParser.parse(body))?["source"]?["site"]?.stringValue ?? ""
                            guard site.split(separator: ",").contains(Substring(hospital)) else { continue }
                        }
                        FileHandle.standardOutput.write(Data((body + "\n").utf8))
                    }
                    after = last
                }
            }
        }
    }

    /// Runs `body` on the store holding the tenant's trail (the tenant's own store, from the
    /// registry), or on the shared store for `_admin`, the admin actions' chain.
    static func withTrail<T: Sendable>(_ configuration: GatewayConfiguration, slug: String,
                                       _ body: @Sendable (HMSRepository, String) async throws -> T) async throws -> T {
        let logger = GatewayLogging.logger()
        if slug == "_admin" {
            return try await HMSRepository.withOpen(configuration.database, logger: logger) { repository in
                try await body(repository, HMSRepository.adminChainTenantID)
            }
        }
        let store = try await HMSRepository.withOpen(configuration.database, logger: logger) { repository in
            try await TenantRegistry(repository: repository, developmentIssuer: configuration.developmentIssuer).get(slug)?.store
        } ?? TenantConfiguration.sharedStore
        guard let database = configuration.allStores[store] else { throw ValidationError("tenant '\(slug)' is in store '\(store)', which is not configured") }
        return try await HMSRepository.withOpen(database, logger: logger) { repository in
            guard let tenantID = try await repository.tenantIDs()[slug] else { throw ValidationError("no tenant '\(slug)' in the store") }
            return try await body(repository, tenantID)
        }
    }
}
