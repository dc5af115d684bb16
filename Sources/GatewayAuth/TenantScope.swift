/// Proof that a request passed the token and tenant checks for one tenant.
///
/// Only ``TokenVerifier`` can make one (the initializer is internal), and every store method
/// takes one: the store derives its tenant predicate from it, so no handler writes a tenant filter.
public struct TenantScope: Sendable {
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
    /// The hospitals the token's hospital claim names (codes or Organization ids, as sent), when the
    /// tenant has a hospital claim and the token carries it; resolved to a restriction by the gateway.
    public internal(set) var hospitalClaim: [String]?
    /// What the scopes granted for this request: a patient compartment and granular filters the
    /// store adds to every statement, like the tenant predicate.
    public private(set) var restriction = AccessRestriction()

    /// A copy confined further; a restriction can only be narrowed, never lifted.
    public func narrowed(to restriction: AccessRestriction) -> TenantScope {
        var copy = self
        copy.restriction.patient = restriction.patient ?? self.restriction.patient
        copy.restriction.clauses.merge(restriction.clauses) { $0 + $1 }
        switch (self.restriction.hospitals, restriction.hospitals) {
        case (let mine?, let other?): copy.restriction.hospitals = mine.intersection(other)
        case (nil, let other?): copy.restriction.hospitals = other
        default: break
        }
        return copy
    }

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

extension TenantScope {
    /// What a background job needs to act later with the rights of the request that started it:
    /// the token's identity and scopes, and the hospitals it was confined to.
    public struct Grant: Codable, Sendable, Equatable {
        public let slug: String
        public let tenantID: String
        public let subject: String?
        public let clientID: String?
        public let scope: String
        public let patient: String?
        public let fhirUser: String?
        public let hospitals: [String]?
    }

    /// The grant of this scope, to be recorded with a job it admits.
    public var grant: Grant {
        Grant(slug: slug, tenantID: tenantID, subject: subject, clientID: clientID, scope: scope, patient: patient, fhirUser: fhirUser,
              hospitals: restriction.hospitals.map { $0.sorted() })
    }

    /// The scope of a job's starting request, from the grant recorded when the token was checked
    /// (the only way to a scope besides ``TokenVerifier``; grants are written by the gateway only).
    public static func resumed(_ grant: Grant) -> TenantScope {
        var scope = TenantScope(slug: grant.slug, tenantID: grant.tenantID, subject: grant.subject, clientID: grant.clientID,
                                scope: grant.scope, patient: grant.patient, fhirUser: grant.fhirUser)
        if let hospitals = grant.hospitals {
            var restriction = AccessRestriction()
            restriction.hospitals = Set(hospitals)
            scope = scope.narrowed(to: restriction)
        }
        return scope
    }
}
