import FHIRModels
import FHIRSearch
import GatewayAuth
import GatewayStore
import Hummingbird

/// A suspended tenant, or one without a business associate agreement in force, is refused; the bearer token is verified with the tenant's own keys and
/// becomes the ``TenantScope`` the inner layers work with (tenant claim 403, anything else about
/// the token 401); `user/` grants need a `fhirUser` naming a Practitioner of the tenant.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let services: GatewayServices

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let tenant = context.tenant else { throw FHIRError.notFound("no FHIR endpoint at this path") }
        guard tenant.configuration.status == .active else {
            context.state.update { $0.authFailure = AuthFailure.tenantSuspended.reason }
            throw AuthFailure.tenantSuspended.fhirError
        }
        switch tenant.configuration.baa?.standing() {
        case .inForce?: break
        default:
            context.state.update { $0.authFailure = AuthFailure.agreementNotInForce.reason }
            throw AuthFailure.agreementNotInForce.fhirError
        }
        var scope: TenantScope
        do {
            guard let hmsTenantID = tenant.hmsTenantID else {
                throw FHIRError(status: 503, code: .transient, "this tenant is registered but the HMS has no tenant with its slug yet; retry later",
                                headers: [("Retry-After", "10")])
            }
            scope = try await RequestTracing.span("token.verify", attributes: ["tenant": .string(tenant.configuration.slug)]) {
                try await services.verifier.authorize(authorization: request.headers[.authorization], tenant: tenant.configuration,
                                                      tenantID: hmsTenantID)
            }
        } catch let failure as AuthFailure {
            context.state.update { $0.authFailure = failure.reason }
            throw failure.fhirError
        }
        if let names = scope.hospitalClaim {
            // Confined to its hospitals by the store, next to the tenant predicate, through every door.
            guard !names.isEmpty, let hospitals = try await services.hospitals.resolve(names, tenantID: scope.tenantID, in: tenant.repository) else {
                context.state.update { $0.authFailure = "unknown_hospital" }
                throw FHIRError.forbidden("The token's hospital claim names a hospital this tenant does not have")
            }
            scope = scope.narrowed(to: AccessRestriction(hospitals: hospitals))
        }
        context.state.update { $0.scope = scope }
        try await requireUser(for: scope, tenant: tenant)
        var context = context
        context.scope = scope
        return try await next(request, context)
    }

    /// `user/` grants act for the `fhirUser`, who must be a Practitioner of this tenant.
    /// The relative form and the absolute form under the tenant's base are both accepted (SMART App Launch).
    private func requireUser(for scope: TenantScope, tenant: ResolvedTenant) async throws {
        let baseURL = tenant.baseURL
        guard ScopePolicy(scope: scope.scope).grants.contains(where: { $0.context == .user }) else { return }
        guard let fhirUser = scope.fhirUser.flatMap({ LocalReference.parse($0, baseURL: baseURL) }), fhirUser.type == "Practitioner",
              fhirUser.version == nil, try await tenant.repository.read("Practitioner", id: fhirUser.id, scope: scope) != nil else {
            throw FHIRError.forbidden("user-level scopes need a fhirUser claim naming a Practitioner of this tenant")
        }
    }
}
