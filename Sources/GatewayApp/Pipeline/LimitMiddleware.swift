import FHIRModels
import GatewayConfig
import HTTPTypes
import Hummingbird

/// The tenant's rate limits (a token bucket per rate class), its cap on requests in progress, and
/// its share of database connections (requests past it wait for the tenant's own slots).
/// A refusal is a 429 `throttled` OperationOutcome with `Retry-After` and the IETF `RateLimit-Policy`
/// and `RateLimit` fields, decided in memory: it never reaches the database (nor the audit trail,
/// which a flood would otherwise fill; it is counted in metrics).
struct LimitMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let services: GatewayServices

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let tenant = context.tenant, let rateClass = context.interaction.map(Self.rateClass) ?? context.backendEndpoint?.rateClass else {
            return try await next(request, context)
        }
        let slug = tenant.configuration.slug
        if rateClass == .write, context.interaction != nil, tenant.configuration.writesPaused {
            throw FHIRError(status: 503, code: .transient, "the tenant is moving to another data store: writes resume in a few seconds",
                            headers: [("Retry-After", "5")])
        }
        let fields = try Self.take(rateClass, tenant: tenant, services: services)
        let maximum = tenant.limits.concurrentRequests ?? Int.max
        guard services.limiter.enter(slug: slug, maximum: maximum) else {
            services.metrics.throttled(tenant: slug, limit: "concurrency")
            throw FHIRError(status: 429, code: .throttled, "The tenant has \(maximum) requests in progress, its limit; retry after 1 s",
                            headers: [("Retry-After", "1")] + fields)
        }
        defer { services.limiter.leave(slug: slug) }
        var response: Response
        if let slots = tenant.limits.databaseConnections {
            await services.limiter.acquireConnection(slug: slug, maximum: slots)
            defer { services.limiter.releaseConnection(slug: slug) }
            response = try await next(request, context)
        } else {
            response = try await next(request, context)
        }
        for (name, value) in fields {
            // A controller's own limit (the export rate of a kick-off) speaks for itself.
            if let field = HTTPField.Name(name), response.headers[field] == nil { response.headers[field] = value }
        }
        return response
    }

    static func rateClass(_ interaction: FHIRInteraction) -> TenantLimits.RateClass {
        switch interaction {
        case .search: .search
        case .create, .update, .bundle, .validate: .write
        // A kick-off spends the export budget only once it is valid and about to create a job (ExportController).
        default: .read
        }
    }

    /// Takes one request from the tenant's `rateClass` bucket: the rate-limit fields for the answer,
    /// or a 429 `throttled` refusal carrying them and `Retry-After`.
    static func take(_ rateClass: TenantLimits.RateClass, tenant: ResolvedTenant, services: GatewayServices) throws(FHIRError) -> [(String, String)] {
        guard let limit = tenant.limits.rate(rateClass) else { return [] }
        let slug = tenant.configuration.slug
        let decision = services.limiter.take(slug: slug, rateClass: rateClass, limit: limit)
        let fields = Self.fields(rateClass, decision)
        guard decision.allowed else {
            services.metrics.throttled(tenant: slug, limit: rateClass.rawValue)
            throw FHIRError(status: 429, code: .throttled,
                            "The tenant's \(rateClass.rawValue) rate limit is reached (\(Self.describe(limit, replicas: services.limiter.replicas))); retry after \(decision.reset) s",
                            headers: [("Retry-After", String(decision.reset))] + fields)
        }
        return fields
    }

    /// draft-ietf-httpapi-ratelimit-headers: the policy (quota `q` per window `w` seconds) and the
    /// state (`r` remaining, `t` seconds to reset), named by the rate class.
    static func fields(_ rateClass: TenantLimits.RateClass, _ decision: TenantLimiter.Decision) -> [(String, String)] {
        [("RateLimit-Policy", "\"\(rateClass.rawValue)\";q=\(decision.quota);w=\(decision.window)"),
         ("RateLimit", "\"\(rateClass.rawValue)\";r=\(decision.remaining);t=\(decision.reset)")]
    }

    static func describe(_ limit: RateLimit, replicas: Int) -> String {
        let rate = limit.rate == limit.rate.rounded() ? String(Int(limit.rate)) : String(limit.rate)
        return "\(rate) per second, bursts of \(limit.burst)" + (replicas > 1 ? ", across \(replicas) replicas" : "")
    }
}
