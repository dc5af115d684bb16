import FHIRModels
import FHIRSearch
import GatewayAuth
import HMSMapping

/// Turns the SMART decision for one access into the scope the store will enforce.
enum ScopeAuthorization {
    static func scope(_ scope: TenantScope, policy: ScopePolicy, access: ScopePolicy.Access, type: String, baseURL: String) throws(FHIRError) -> TenantScope {
        switch policy.decide(access, resourceType: type, patient: scope.patient) {
        case .denied(let reason):
            throw FHIRError.forbidden(reason)
        case .allowed(let patient, let filters):
            var restriction = AccessRestriction()
            if let patient {
                guard let uuid = HMSIdentifier.normalizedUUID(patient) else { throw FHIRError.forbidden("the token's patient claim does not name a patient") }
                restriction.patient = uuid
            }
            let parser = SearchParser(defaultCount: 1, maximumCount: 1, strict: true, baseURL: baseURL)
            for filter in filters {
                let clauses: [SearchClause]
                do {
                    guard let pairs = try? QueryString.parse(filter) else { throw FHIRError.forbidden("a granular scope filter is not a valid query") }
                    clauses = try parser.parse(resourceType: type, parameters: pairs).clauses
                    // Result parameters (`_elements`, `_count`, `_include`, ...) filter nothing: a grant made
                    // of them would be unfiltered, so it is unusable instead.
                    guard !clauses.isEmpty, clauses.count == pairs.count else { throw FHIRError.forbidden("") }
                } catch {
                    throw FHIRError.forbidden("a granular scope filter uses a parameter this server cannot enforce")
                }
                restriction.clauses[type, default: []] += clauses
            }
            return scope.narrowed(to: restriction)
        }
    }

    /// Whether `type` may be added to a bundle as an include, and under which scope.
    static func includeScope(_ scope: TenantScope, policy: ScopePolicy, type: String, baseURL: String) -> TenantScope? {
        try? Self.scope(scope, policy: policy, access: .read, type: type, baseURL: baseURL)
    }
}
