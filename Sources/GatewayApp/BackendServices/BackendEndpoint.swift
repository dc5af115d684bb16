import GatewayConfig

/// The paths of the gateway's own authorisation server under a tenant, `/<tenant>/auth/...`.
enum BackendEndpoint: String, Sendable {
    case token
    case jwks = "jwks.json"

    /// The interaction name in logs, metrics and spans.
    var interaction: String {
        switch self {
        case .token: "backend-token"
        case .jwks: "backend-jwks"
        }
    }

    /// Issuing a token writes (its assertion's `jti`); the key set is read.
    var rateClass: TenantLimits.RateClass {
        switch self {
        case .token: .write
        case .jwks: .read
        }
    }
}
