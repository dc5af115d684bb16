/// Why a backend client's assertion (`private_key_jwt`) was refused; every case is OAuth's
/// `invalid_client`, and the reason is a log and metrics label that never holds the assertion.
public enum ClientAssertionFailure: Error, Sendable, Equatable {
    /// The JWT itself failed a check every token must pass (signature, kid, alg, exp, aud, iss...).
    case token(AuthFailure)
    case missingIssuer
    /// `iss` and `sub` differ.
    case subjectMismatch
    /// `iss` names no client of this tenant.
    case unknownClient
    /// `exp` lies more than five minutes ahead.
    case lifetimeTooLong
    case missingJTI
    /// The `jti` was seen before for this client, on any replica.
    case replayed
    /// A `jku` header that is not the client's registered JWKS URL.
    case jkuMismatch
    /// The client's registered key set cannot be read (or fetched).
    case keysUnavailable

    public var reason: String {
        switch self {
        case .token(let failure): failure.reason
        case .missingIssuer: "missing_iss"
        case .subjectMismatch: "iss_sub_mismatch"
        case .unknownClient: "unknown_client"
        case .lifetimeTooLong: "exp_too_far"
        case .missingJTI: "missing_jti"
        case .replayed: "replayed_jti"
        case .jkuMismatch: "jku_mismatch"
        case .keysUnavailable: "client_keys_unavailable"
        }
    }

    /// A description for `error_description`: what was wrong, never what was sent.
    public var description: String {
        switch self {
        case .token(.expired): "the client assertion has expired"
        case .token(.missingExpiry): "the client assertion has no exp"
        case .token(.wrongAudience): "the client assertion's aud is not this token endpoint"
        case .token(.wrongIssuer): "the client assertion's iss is not the client"
        case .token(.unknownKey): "the client assertion's kid names none of the client's keys"
        case .token(.algorithmMismatch): "the client assertion's alg is not the algorithm of the key its kid names"
        case .token(.oversizedToken): "the client assertion is too large"
        case .token: "the client assertion could not be verified"
        case .missingIssuer: "the client assertion needs iss and sub"
        case .subjectMismatch: "the client assertion's iss and sub must both be the client id"
        case .unknownClient: "no such client is registered with this tenant"
        case .lifetimeTooLong: "the client assertion's exp must be at most 5 minutes ahead"
        case .missingJTI: "the client assertion needs a jti of 1-256 characters"
        case .replayed: "this client assertion's jti was already used"
        case .jkuMismatch: "the client assertion's jku is not the client's registered JWKS URL"
        case .keysUnavailable: "the client's registered keys cannot be read"
        }
    }
}
