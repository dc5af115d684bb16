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
        guard let url = URL(string: baseURL), let host = url.host else { throw ValidationError("--base-url must be an absolute URL") }
        let (configuration, _) = try options.load(host: host, port: url.port ?? 80)
        for slug in [tenant, other] {
            guard configuration.tenant(slug: slug)?.keySource == .development else {
                throw ValidationError("tenant '\(slug)' must use the development issuer for live conformance runs")
            }
        }
        let issuer = try await DevelopmentIssuer.loadOrCreate(keyFile: configuration.developmentKeyFile, issuer: configuration.developmentIssuer)
        let base = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        let tenants = configuration.tenants
        let runner = ConformanceRunner(
            publicBase: configuration.server.publicBaseURL,
            tenantClaims: Dictionary(uniqueKeysWithValues: tenants.map { ($0.slug, $0.tenantClaim) }),
            tenantTypes: Dictionary(uniqueKeysWithValues: tenants.map { ($0.slug, $0.resourceTypes) }),
            send: { method, path, headers, body in
                var request = URLRequest(url: URL(string: base + path)!)
                request.httpMethod = method
                for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
                request.httpBody = body.map { Data($0.utf8) }
                let (data, response) = try await URLSession.shared.data(for: request)
                let http = response as! HTTPURLResponse
                var replyHeaders: [String: String] = [:]
                for (key, value) in http.allHeaderFields { replyHeaders["\(key)"] = "\(value)" }
                return .init(status: http.statusCode, headers: replyHeaders, body: String(decoding: data, as: UTF8.self))
            },
            mint: { slug, scope, claims in
                let configured = tenants.first { $0.slug == slug }!
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
        let outcomes = try await runner.run(loaded, tenant: tenant, other: other)
        for outcome in outcomes { print(outcome) }
        let failed = outcomes.filter { !$0.passed }.count
        print("\(outcomes.count - failed) passed, \(failed) failed")
        if failed > 0 { throw ExitCode.failure }
    }
}
