import ArgumentParser
import FHIRModels
import Foundation
import GatewayApp
import GatewayConfig

/// A tenant's SMART Backend Services clients from the command line: changes of the tenant's
/// registry document, audited in the admin chain like every registry change.
struct ClientsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clients", abstract: "List, add or remove a tenant's backend service clients (SMART Backend Services).",
        subcommands: [List.self, Add.self, Remove.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the tenant's clients (id, keys, scopes, name).")
        @OptionGroup var options: ConfigurationOptions
        @Option(help: "Tenant slug.") var tenant: String
        @Flag(help: "Print the clients as JSON lines.") var json = false

        func run() async throws {
            let slug = tenant
            let json = self.json
            try await TenantsCommand.withRegistry(options) { registry, _ in
                guard let tenant = try await registry.get(slug) else { throw TenantRegistry.Failure.notFound }
                for client in tenant.backendClients {
                    if json {
                        TenantsCommand.printJSON(TenantDocument.render(client))
                        continue
                    }
                    let keys: String
                    switch client.keys {
                    case .url(let url): keys = url
                    case .inline: keys = "inline jwks"
                    }
                    print([client.clientID, keys, client.scopes.joined(separator: " "), client.name ?? ""].joined(separator: "\t"))
                }
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a client with the tenant.")
        @OptionGroup var options: ConfigurationOptions
        @Option(help: "Tenant slug.") var tenant: String
        @Option(name: .customLong("client-id"), help: "The client's id: the iss and sub of its assertions.") var clientID: String
        @Option(help: "A display name.") var name: String?
        @Option(name: .customLong("jwks-url"), help: "Where the client publishes its public keys (https).") var jwksURL: String?
        @Option(name: .customLong("jwks-file"), help: "A file with the client's public key set (stored in the registry).") var jwksFile: String?
        @Option(name: .customLong("scope"), help: "A system/ scope the client may get (repeat for more).") var scopes: [String] = []

        func run() async throws {
            var client = JSONObject()
            client.append("client_id", clientID)
            client.append("name", name)
            client.append("jwks_url", jwksURL)
            if let jwksFile {
                guard let data = FileManager.default.contents(atPath: jwksFile) else { throw ValidationError("cannot read '\(jwksFile)'") }
                do { client.append("jwks", try JSONParser.parse([UInt8](data), maximumDepth: 8)) } catch {
                    throw ValidationError("'\(jwksFile)' is not valid JSON")
                }
            }
            client.append("scopes", .array(scopes.map(JSON.string)))
            let slug = tenant
            let entry = JSON.object(client)
            try await TenantsCommand.withRegistry(options) { registry, actor in
                _ = try await registry.addBackendClient(slug, client: entry, actor: actor)
                print("\(slug)\t\(entry["client_id"]?.stringValue ?? "")\tadded")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a client: it gets no new tokens (tokens issued stay valid until they expire, at most 5 minutes).")
        @OptionGroup var options: ConfigurationOptions
        @Option(help: "Tenant slug.") var tenant: String
        @Option(name: .customLong("client-id"), help: "The client's id.") var clientID: String

        func run() async throws {
            let slug = tenant
            let clientID = self.clientID
            try await TenantsCommand.withRegistry(options) { registry, actor in
                _ = try await registry.removeBackendClient(slug, clientID: clientID, actor: actor)
                print("\(slug)\t\(clientID)\tremoved")
            }
        }
    }
}
