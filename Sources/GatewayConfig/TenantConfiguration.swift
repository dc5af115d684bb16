/// One tenant (a hospital group) as the operator configured it.
public struct TenantConfiguration: Sendable, Equatable {
    public enum Tier: String, Sendable, CaseIterable { case enterprise, professional, starter }
    public enum Status: String, Sendable, CaseIterable { case active, suspended }
    public enum KeySource: Sendable, Equatable {
        /// The built-in development issuer (keys generated on first start).
        case development
        case file(String)
        case url(String)
        /// A JWKS document held in the registry itself (the admin API's `jwks`, or a `jwks_file` once applied).
        case inline(String)
    }
    public enum ProfileSet: String, Sendable, CaseIterable {
        case base
        case usCore = "us-core"
    }

    public var slug: String
    public var name: String
    public var tier: Tier
    public var status: Status
    public var issuer: String
    public var keySource: KeySource
    public var audience: String
    public var tenantClaim: String
    public var resourceTypes: [String]
    public var profileSet: ProfileSet
    public var authorizationEndpoint: String
    public var tokenEndpoint: String
    /// Browser origins allowed by CORS (exact `scheme://host[:port]`, or `*` for any origin without credentials).
    public var corsAllowedOrigins: [String] = []
    /// This tenant's own limits; unset fields take the tier's.
    public var limits = TenantLimits()
    /// The business associate agreement; nil or not in force means no PHI is served.
    public var baa: BusinessAssociateAgreement?
    /// The token claim (such as `hospital_ids`) listing the hospitals a token is confined to, by
    /// code or Organization id; nil: tokens see the whole tenant.
    public var hospitalClaim: String?
    /// The data store holding the tenant's data: `shared` (the `database`) or one named under `stores`.
    public var store: String = TenantConfiguration.sharedStore
    /// Set while the tenant moves between stores: writes answer 503 with Retry-After, reads go on.
    public var writesPaused = false
    /// Systems that get tokens from the gateway's own token endpoint (SMART Backend Services).
    public var backendClients: [BackendClient] = []

    public static let sharedStore = "shared"

    public init(
        slug: String, name: String, tier: Tier = .starter, status: Status = .active, issuer: String,
        keySource: KeySource, audience: String, tenantClaim: String = "tenant_id",
        resourceTypes: [String] = TenantConfiguration.supportedResourceTypes, profileSet: ProfileSet = .base,
        authorizationEndpoint: String? = nil, tokenEndpoint: String? = nil
    ) {
        self.slug = slug
        self.name = name
        self.tier = tier
        self.status = status
        self.issuer = issuer
        self.keySource = keySource
        self.audience = audience
        self.tenantClaim = tenantClaim
        self.resourceTypes = resourceTypes
        self.profileSet = profileSet
        self.authorizationEndpoint = authorizationEndpoint ?? Self.issuerBase(issuer) + "/authorize"
        self.tokenEndpoint = tokenEndpoint ?? Self.issuerBase(issuer) + "/token"
    }

    private static func issuerBase(_ issuer: String) -> String { issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer }

    /// The token endpoint when none is configured: `<issuer>/token`.
    public var defaultTokenEndpoint: String { Self.issuerBase(issuer) + "/token" }

    /// Resource types the gateway can serve today.
    public static let supportedResourceTypes = [
        "Patient", "Practitioner", "Encounter", "MedicationRequest", "Organization", "Observation", "DiagnosticReport",
    ]

    /// Types partners write (stored by the gateway); the others are read-only HMS records.
    public static let writableResourceTypes: Set<String> = ["Observation", "DiagnosticReport"]

    /// The slug grammar: lowercase letters, digits and inner hyphens, 1 to 63 characters.
    public static func isValidSlug(_ slug: some StringProtocol) -> Bool {
        let bytes = Array(slug.utf8)
        guard (1...63).contains(bytes.count), bytes.first != UInt8(ascii: "-"), bytes.last != UInt8(ascii: "-") else { return false }
        return bytes.allSatisfy { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "-") }
    }
}
