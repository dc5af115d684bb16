import ArgumentParser
import Foundation
import GatewayApp
import GatewayConfig
import Logging

@main
struct FHIRGatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fhir-gateway",
        abstract: "A tenant-scoped FHIR R4 gateway in front of a hospital management system.",
        subcommands: [ServeCommand.self, TokenCommand.self, TenantsCommand.self, ClientsCommand.self, SeedCommand.self, MigrateCommand.self, AuditCommand.self, ConformanceCommand.self],
        defaultSubcommand: ServeCommand.self)
}

/// Options shared by every command that reads the configuration.
struct ConfigurationOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file (YAML or JSON). Without one, the embedded default is used.")
    var config: String?

    var environment: [String: String] { ProcessInfo.processInfo.environment }

    func load(host: String? = nil, port: Int? = nil) throws -> (GatewayConfiguration, embedded: Bool) {
        guard let config else {
            return (EmbeddedDefault.configuration(host: host ?? "127.0.0.1", port: port ?? 8080, environment: environment), true)
        }
        guard let data = FileManager.default.contents(atPath: config) else {
            throw ValidationError("cannot read configuration file '\(config)'")
        }
        do {
            var configuration = try ConfigurationLoader.load(yaml: String(decoding: data, as: UTF8.self), environment: environment)
            if let host { configuration.server.host = host }
            if let port { configuration.server.port = port }
            return (configuration, false)
        } catch {
            throw ValidationError(error.description)
        }
    }
}

enum GatewayLogging {
    static let bootstrap: Void = {
        LoggingSystem.bootstrap { label in
            // Only `serve` logs to standard output; every other command prints its result there.
            let serving = CommandLine.arguments.dropFirst().first.map { $0 == "serve" || $0.hasPrefix("-") } ?? true
            var handler = JSONLogHandler(label: label, toStandardError: !serving)
            if let level = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) { handler.logLevel = level }
            return handler
        }
    }()

    static func logger() -> Logger {
        _ = bootstrap
        return Logger(label: "fhir-gateway")
    }
}
