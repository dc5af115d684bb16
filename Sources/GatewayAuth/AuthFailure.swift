import FHIRModels

/// Why a request was refused before reaching data; the reason is a metrics label, never shown with token content.
public enum AuthFailure: Error, Sendable, Equatable {
    case missingToken
    case malformedToken
    case oversizedToken
    case unsupportedAlgorithm
    case unknownKey
    case algorithmMismatch
    case badSignature
    case missingExpiry
    case expired
    case notYetValid
    case wrongIssuer
    case wrongAudience
    /// The token is valid but its tenant claim does not name this tenant.
    case tenantMismatch
    case tenantSuspended
    /// The tenant has no business associate agreement in force: no PHI may be served to it.
    case agreementNotInForce
    /// Valid, but without the scope the endpoint needs (admin API).
    case insufficientScope

    public var reason: String {
        switch self {
        case .missingToken: "missing_token"
        case .malformedToken: "malformed"
        case .oversizedToken: "oversized"
        case .unsupportedAlgorithm: "unsupported_alg"
        case .unknownKey: "unknown_kid"
        case .algorithmMismatch: "alg_mismatch"
        case .badSignature: "bad_signature"
        case .missingExpiry: "missing_exp"
        case .expired: "expired"
        case .notYetValid: "not_yet_valid"
        case .wrongIssuer: "wrong_issuer"
        case .wrongAudience: "wrong_audience"
        case .tenantMismatch: "tenant_mismatch"
        case .tenantSuspended: "tenant_suspended"
        case .agreementNotInForce: "baa_not_in_force"
        case .insufficientScope: "insufficient_scope"
        }
    }

    /// The OperationOutcome answer: 401 `login` for token problems, 403 `forbidden` for the tenant claim.
    public var fhirError: FHIRError {
        switch self {
        case .missingToken:
            return .unauthorized("A bearer token is required", error: nil)
        case .tenantMismatch:
            return .forbidden("The token is not valid for this tenant")
        case .tenantSuspended:
            return .forbidden("This tenant is suspended")
        case .agreementNotInForce:
            return .forbidden("This tenant's business associate agreement is not in force: no patient data can be served until it is")
        case .insufficientScope:
            return .forbidden("The token does not carry the scope this endpoint requires")
        case .expired:
            return .unauthorized("The token has expired")
        case .notYetValid:
            return .unauthorized("The token is not yet valid")
        case .missingExpiry:
            return .unauthorized("The token has no expiry")
        case .wrongIssuer:
            return .unauthorized("The token was not issued by this tenant's issuer")
        case .wrongAudience:
            return .unauthorized("The token is not intended for this server")
        case .oversizedToken:
            return .unauthorized("The token is too large")
        case .malformedToken, .unsupportedAlgorithm, .unknownKey, .algorithmMismatch, .badSignature:
            return .unauthorized("The token could not be verified")
        }
    }
}
