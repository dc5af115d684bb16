import FHIRModels
import Foundation
import GatewayAuth
import GatewayConfig
import Hummingbird

/// `POST /<tenant>/auth/token`: SMART Backend Services. A registered client proves itself with a
/// JWT signed by its own key and gets a short access token for the `system/` scopes it asked for
/// and is registered for. Every refusal is an OAuth error; the log names the tenant, the client
/// (only a registered one) and a reason code, never the assertion.
struct BackendTokenController {
    let services: GatewayServices

    func respond(_ request: Request, tenant: ResolvedTenant, state: RequestState) async -> Response {
        var clientID: String?
        let outcome: String
        let response: Response
        do {
            let issued = try await issue(request, tenant: tenant, clientID: &clientID)
            outcome = "issued"
            response = issued
        } catch let error as OAuthError {
            outcome = error.reason
            response = error.response
        } catch {
            outcome = "store_unavailable"
            response = OAuthError(status: .serviceUnavailable, code: "temporarily_unavailable", description: "retry later",
                                  reason: outcome, headers: [("Retry-After", "5")]).response
        }
        if outcome != "issued" { state.update { $0.authFailure = outcome } }
        services.logger.info("backend token", metadata: [
            "tenant": .string(tenant.configuration.slug), "client_id": .string(clientID ?? "-"), "outcome": .string(outcome),
        ])
        return response
    }

    private func issue(_ request: Request, tenant: ResolvedTenant, clientID: inout String?) async throws -> Response {
        guard request.method == .post else {
            throw OAuthError(status: .methodNotAllowed, code: "invalid_request", description: "use POST", reason: "method",
                             headers: [("Allow", "POST")])
        }
        let configuration = tenant.configuration
        guard configuration.status == .active else {
            throw OAuthError(status: .forbidden, code: "unauthorized_client", description: "this tenant is suspended", reason: "tenant_suspended")
        }
        guard let tenantID = tenant.hmsTenantID else {
            throw OAuthError(status: .serviceUnavailable, code: "temporarily_unavailable", description: "this tenant is not ready yet; retry later",
                             reason: "tenant_not_in_hms", headers: [("Retry-After", "10")])
        }
        let form = try await TokenRequest.parse(Self.body(request))
        let now = Int64(Date().timeIntervalSince1970)
        let tokenURL = services.configuration.backendIssuer(slug: configuration.slug) + "/token"
        let assertion: TokenVerifier.ClientAssertion
        do {
            assertion = try await services.verifier.verifyClientAssertion(form.assertion, tenant: configuration, audience: tokenURL, now: now)
        } catch {
            throw OAuthError.invalidClient(error.description, reason: error.reason)
        }
        clientID = assertion.client.clientID
        guard try await services.repository.rememberAssertion(tenantID: tenantID, clientID: assertion.client.clientID, jti: assertion.jti,
                                                              until: assertion.rememberUntil, now: now) else {
            let replayed = ClientAssertionFailure.replayed
            throw OAuthError.invalidClient(replayed.description, reason: replayed.reason)
        }
        guard !form.scope.isEmpty else {
            throw OAuthError(status: .badRequest, code: "invalid_scope", description: "scope is required", reason: "missing_scope")
        }
        let granted = assertion.client.grant(form.scope)
        guard !granted.isEmpty else {
            throw OAuthError(status: .badRequest, code: "invalid_scope",
                             description: "none of the requested scopes is registered for this client", reason: "invalid_scope")
        }
        let token = try services.backendIssuer.mint(tenant: configuration, clientID: assertion.client.clientID, scopes: granted, now: now)
        var body = JSONObject()
        body.append("access_token", token)
        body.append("token_type", "bearer")
        body.append("expires_in", .int(Int(BackendTokenIssuer.lifetimeSeconds)))
        body.append("scope", granted.joined(separator: " "))
        return FHIRResponse.json(.object(body), contentType: ContentNegotiation.plainJSON, headers: OAuthError.noStore)
    }

    /// The form body: `application/x-www-form-urlencoded`, identity encoding, at most ``TokenRequest/maximumBodyBytes``.
    static func body(_ request: Request) async throws(OAuthError) -> String {
        if let encoding = request.headers[.contentEncoding], encoding.lowercased() != "identity" {
            throw .invalidRequest("the body must not be content-encoded", reason: "content_encoding")
        }
        let mediaType = request.headers[.contentType]?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard mediaType == "application/x-www-form-urlencoded" else {
            throw .invalidRequest("the body must be application/x-www-form-urlencoded", reason: "content_type")
        }
        let tooLarge = OAuthError.invalidRequest("the body is larger than \(TokenRequest.maximumBodyBytes) bytes", reason: "oversize",
                                                 status: .contentTooLarge)
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > TokenRequest.maximumBodyBytes { throw tooLarge }
        var request = request
        do {
            return String(buffer: try await request.collectBody(upTo: TokenRequest.maximumBodyBytes))
        } catch {
            throw tooLarge
        }
    }
}
