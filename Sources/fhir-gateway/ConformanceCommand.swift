import ArgumentParser
import FHIRModels
import Foundation
import GatewayApp
import GatewayAuth
import GatewayConfig

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

struct ConformanceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conformance",
        abstract: "Run the conformance cases in conformance/ against a live gateway.",
        discussion: "Tokens come from the development issuer, so the tenants under test must use it (the embedded default does).")

    @OptionGroup var options: ConfigurationOptions
    @Option(help: "Base URL of the live gateway, e.g. http://127.0.0.1:8080") var baseURL: String
    @Option(help: "Folder of conformance case files.") var cases = "conformance"
    @Option(help: "Tenant under test.") var tenant = "acme"
    @Option(help: "A second tenant, for cross-tenant cases.") var other = "globex"

    func run() async throws {
        guard let url = URL(string: baseURL), let scheme = url.scheme, ["http", "https"].contains(scheme), let host = url.host else {
            throw ValidationError("--base-url must be an absolute http(s) URL such as http://127.0.0.1:8080")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: cases, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("no conformance cases folder at '\(cases)': run from the repository root or pass --cases <folder>")
        }
        let (configuration, _) = try options.load(host: host, port: url.port ?? (scheme == "https" ? 443 : 80))
        for slug in [tenant, other] {
            guard configuration.tenant(slug: slug)?.keySource == .development else {
                throw ValidationError("tenant '\(slug)' must use the development issuer for live conformance runs")
            }
        }
        let base = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        guard FileManager.default.fileExists(atPath: configuration.developmentKeyFile) else {
            throw ValidationError("""
                no development key at '\(configuration.developmentKeyFile)': run from the folder the server was started in, \
                or pass --config with the server's development_issuer.key_file
                """)
        }
        let issuer = try await DevelopmentIssuer.loadOrCreate(keyFile: configuration.developmentKeyFile, issuer: configuration.developmentIssuer)
        try await Self.requireSameKey(issuer, base: base, keyFile: configuration.developmentKeyFile)
        // Audiences of the embedded default are tenant base URLs: take them from the server itself,
        // which knows its public base, rather than from how this command was started.
        var served = configuration.tenants
        for index in served.indices where served[index].audience == "\(configuration.server.publicBaseURL)/\(served[index].slug)/r4" {
            if let url = try? await Self.servedBase(base: base, slug: served[index].slug) { served[index].audience = url }
        }
        let tenants = served
        let publicBase = tenants.first { $0.slug == tenant }.map { $0.audience.hasSuffix("/\($0.slug)/r4") ? String($0.audience.dropLast("/\($0.slug)/r4".count)) : nil }
            ?? nil
        let runner = ConformanceRunner(
            publicBase: publicBase ?? configuration.server.publicBaseURL,
            tenantClaims: Dictionary(uniqueKeysWithValues: tenants.map { ($0.slug, $0.tenantClaim) }),
            tenantTypes: Dictionary(uniqueKeysWithValues: tenants.map { ($0.slug, $0.resourceTypes) }),
            send: { method, path, headers, body in
                guard let address = URL(string: base + path) else { throw ValidationError("a case path is not a valid URL: \(path)") }
                var request = URLRequest(url: address)
                request.httpMethod = method
                for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
                request.httpBody = body.map { Data($0.utf8) }
                let (data, response) = try await URLSession.shared.data(for: request)
                guard let http = response as? HTTPURLResponse else { throw ValidationError("no HTTP answer from \(base)") }
                var replyHeaders: [String: String] = [:]
                for (key, value) in http.allHeaderFields { replyHeaders["\(key)"] = "\(value)" }
                return .init(status: http.statusCode, headers: replyHeaders, body: String(decoding: data, as: UTF8.self))
            },
            mint: { slug, scope, claims in
                guard let configured = tenants.first(where: { $0.slug == slug }) else { throw ValidationError("unknown tenant '\(slug)'") }
                var all = JSONObject()
                let now = Int(Date().timeIntervalSince1970)
                all.append("iss", issuer.issuer)
                all.append("sub", "conformance")
                all.append("aud", configured.audience)
                all.append("iat", .int(now))
                all.append("exp", .int(now + 600))
                all.append(configured.tenantClaim, slug)
                all.append("scope", scope)
                for member in claims.members { all[member.key] = member.value == .null ? nil : member.value }
                return try issuer.sign(claims: all)
            })
        let loaded = try ConformanceSuite.load(directory: cases)
        guard !loaded.isEmpty else { throw ValidationError("no cases in '\(cases)'") }
        let outcomes = try await runner.run(loaded, tenant: tenant, other: other)
        for outcome in outcomes { print(outcome) }
        let failed = outcomes.filter { !$0.passed }.count
        print("\(outcomes.count - failed) passed, \(failed) failed")
        if failed > 0 { throw ExitCode.failure }
    }

    /// Fails with a hint when the local development key is not the one the server signs with
    /// (a key created in another folder would make every authenticated case a 401).
    static func requireSameKey(_ issuer: DevelopmentIssuer, base: String, keyFile: String) async throws {
        guard let url = URL(string: base + "/dev-issuer/jwks.json") else { return }
        let (data, response) = try await URLSession.shared.data(from: url)
        guard (response as? HTTPURLResponse)?.statusCode == 200, let served = try? JSONParser.parse([UInt8](data)) else {
            throw ValidationError("the server at \(base) publishes no development JWKS: is its tenant using the development issuer?")
        }
        let kids = { (jwks: JSON) in Set((jwks["keys"]?.arrayValue ?? []).compactMap { $0["kid"]?.stringValue }) }
        guard !kids(served).isDisjoint(with: kids(issuer.jwks)) else {
            throw ValidationError("""
                the development key in '\(keyFile)' is not the server's (its JWKS has other key ids): run from the folder the \
                server was started in, or pass --config with the server's development_issuer.key_file
                """)
        }
    }

    /// The tenant's FHIR base as the server publishes it (`implementation.url` of its CapabilityStatement).
    static func servedBase(base: String, slug: String) async throws -> String? {
        guard let url = URL(string: "\(base)/\(slug)/r4/metadata") else { return nil }
        var request = URLRequest(url: url)
        request.setValue("application/fhir+json", forHTTPHeaderField: "Accept")
        let (data, _) = try await URLSession.shared.data(for: request)
        return (try? JSONParser.parse([UInt8](data)))?["implementation"]?["url"]?.stringValue
    }
}
