/// Proof that a request passed the token and tenant checks for one tenant.
///
/// Only ``TokenVerifier`` can make one (the initializer is internal), and every store method
/// takes one: the store derives its tenant predicate from it, so no handler writes a tenant filter.
public struct TenantScope: Sendable, Equatable {
    /// The tenant's URL slug.
    public let slug: String
    /// The tenant's key in the HMS (`tenants.id`).
    public let tenantID: String
    /// The token's `sub`.
    public let subject: String?
    /// The client (`azp` or `client_id`).
    public let clientID: String?
    /// The raw SMART scope string.
    public let scope: String
    /// The `patient` launch context, if any.
    public let patient: String?
    /// The `fhirUser` claim, if any.
    public let fhirUser: String?

    init(slug: String, tenantID: String, subject: String?, clientID: String?, scope: String, patient: String?, fhirUser: String?) {
        self.slug = slug
        self.tenantID = tenantID
        self.subject = subject
        self.clientID = clientID
        self.scope = scope
        self.patient = patient
        self.fhirUser = fhirUser
    }
}
