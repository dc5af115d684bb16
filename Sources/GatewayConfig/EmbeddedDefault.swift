/// The configuration used when `serve` runs with no configuration at all:
/// a SQLite file and the development issuer under `fhir-gateway-data/`, two demo tenants.
public enum EmbeddedDefault {
    public static let dataDirectory = "fhir-gateway-data"

    public static func configuration(host: String = "127.0.0.1", port: Int = 8080, environment: [String: String] = [:]) -> GatewayConfiguration {
        let server = GatewayConfiguration.Server(host: host, port: port)
        let database = GatewayConfiguration.Database.parse(environment["DATABASE_URL"] ?? "\(dataDirectory)/gateway.sqlite",
                                                           migrationURL: environment["DATABASE_MIGRATION_URL"])
        let issuer = server.publicBaseURL + "/dev-issuer"
        var tenants = [
            TenantConfiguration(slug: "acme", name: "Acme Health Group", tier: .enterprise, issuer: issuer, keySource: .development,
                                audience: "\(server.publicBaseURL)/acme/r4", profileSet: .usCore),
            TenantConfiguration(slug: "globex", name: "Globex Hospitals", tier: .professional, issuer: issuer, keySource: .development,
                                audience: "\(server.publicBaseURL)/globex/r4",
                                resourceTypes: ["Patient", "Practitioner", "Encounter", "Organization"], profileSet: .base),
        ]
        // The demo's synthetic patients are not PHI; a real tenant's agreement is recorded by the operator.
        for index in tenants.indices { tenants[index].baa = BusinessAssociateAgreement(version: "demo", signed: "2026-01-01", expires: nil) }
        return GatewayConfiguration(server: server, database: database, tenants: tenants,
                                    developmentKeyFile: "\(dataDirectory)/dev-issuer-key.pem")
    }
}
