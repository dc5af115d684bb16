import FHIRModels

/// One declarative request/expectation pair from `conformance/*.json`.
///
/// Paths and values may use `{tenant}`, `{other}` (a second tenant), `{base}` (the tenant's FHIR
/// base URL), `{patient_id}`, `{patient_id_2}` (two patients of the tenant) and `{other_patient_id}`
/// (a patient of the other tenant), discovered first.
public struct ConformanceCase: Sendable {
    public enum Token: Sendable {
        case none
        /// A valid token for `{tenant}` with claim overrides (`null` removes a claim; the key
        /// `$tenant_claim` stands for the tenant's configured claim name).
        case valid(scope: String?, claims: JSONObject)
        case raw(String)
    }

    public struct Expectation: Sendable {
        /// Any of these statuses passes.
        public var statuses: [Int]
        public var issueCode: String?
        /// Header name to required prefix.
        public var headers: [(String, String)]
        public var resourceType: String?
        public var bundleType: String?
        /// Every `fullUrl` and link is under `{base}`.
        public var urlsUnderTenantBase: Bool
        public var minimumEntries: Int?
        public var maximumEntries: Int?
        public var bodyExcludes: [String]
    }

    public var file: String
    public var name: String
    /// Resource types the tenant must serve for the case to apply.
    public var requiresTypes: [String]
    public var method: String
    public var path: String
    public var token: Token
    public var headers: [(String, String)]
    public var body: String?
    public var expect: Expectation
}
