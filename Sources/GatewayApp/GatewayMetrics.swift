import Synchronization

/// Prometheus metrics, kept in memory and rendered as text at `GET /metrics`. Labels carry tenant
/// slugs, interactions, resource types and reasons from fixed sets, never PHI.
final class GatewayMetrics: Sendable {
    struct RequestKey: Hashable {
        let tenant: String
        let interaction: String
        let resourceType: String
        let statusClass: String
    }

    struct LatencyKey: Hashable {
        let tenant: String
        let interaction: String
        let resourceType: String
    }

    struct Histogram {
        var buckets: [Int]
        var sum: Double = 0
        var count: Int = 0
    }

    static let bounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

    private struct State {
        var requests: [RequestKey: Int] = [:]
        var latencies: [LatencyKey: Histogram] = [:]
        var tokenFailures: [[String]: Int] = [:]
        var auditFailures: [String: Int] = [:]
        var inFlight = 0
    }

    private let state = Mutex(State())
    private let knownTypes: Set<String>
    private let database: @Sendable () -> (active: Int, maximum: Int)

    init(knownTypes: Set<String>, database: @escaping @Sendable () -> (active: Int, maximum: Int)) {
        self.knownTypes = knownTypes
        self.database = database
    }

    func started() { state.withLock { $0.inFlight += 1 } }

    func finished(record: RequestRecord, status: Int, seconds: Double) {
        let tenant = record.tenant ?? "none"
        let interaction = record.interaction ?? "none"
        let type = record.resourceType.map { knownTypes.contains($0) ? $0 : "other" } ?? "none"
        let statusClass = "\(status / 100)xx"
        state.withLock { state in
            state.inFlight -= 1
            state.requests[RequestKey(tenant: tenant, interaction: interaction, resourceType: type, statusClass: statusClass), default: 0] += 1
            var histogram = state.latencies[LatencyKey(tenant: tenant, interaction: interaction, resourceType: type)]
                ?? Histogram(buckets: Array(repeating: 0, count: Self.bounds.count))
            for (index, bound) in Self.bounds.enumerated() where seconds <= bound { histogram.buckets[index] += 1 }
            histogram.sum += seconds
            histogram.count += 1
            state.latencies[LatencyKey(tenant: tenant, interaction: interaction, resourceType: type)] = histogram
            if let reason = record.authFailure { state.tokenFailures[[tenant, reason], default: 0] += 1 }
        }
    }

    func auditWriteFailed(tenant: String) { state.withLock { $0.auditFailures[tenant, default: 0] += 1 } }

    private static func labels(_ pairs: [(String, String)]) -> String {
        "{" + pairs.map { "\($0.0)=\"\($0.1.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))\"" }
            .joined(separator: ",") + "}"
    }

    func render() -> String {
        let state = self.state.withLock { $0 }
        var lines: [String] = []
        lines.append("# HELP fhir_gateway_requests_total Requests answered, by tenant, interaction, resource type and status class.")
        lines.append("# TYPE fhir_gateway_requests_total counter")
        for (key, value) in state.requests.sorted(by: { "\($0.key)" < "\($1.key)" }) {
            lines.append("fhir_gateway_requests_total" + Self.labels([("tenant", key.tenant), ("interaction", key.interaction),
                                                                        ("resource_type", key.resourceType), ("status_class", key.statusClass)]) + " \(value)")
        }
        lines.append("# HELP fhir_gateway_request_duration_seconds Time to answer a request.")
        lines.append("# TYPE fhir_gateway_request_duration_seconds histogram")
        for (key, histogram) in state.latencies.sorted(by: { "\($0.key)" < "\($1.key)" }) {
            let base = [("tenant", key.tenant), ("interaction", key.interaction), ("resource_type", key.resourceType)]
            for (index, bound) in Self.bounds.enumerated() {
                lines.append("fhir_gateway_request_duration_seconds_bucket" + Self.labels(base + [("le", "\(bound)")]) + " \(histogram.buckets[index])")
            }
            lines.append("fhir_gateway_request_duration_seconds_bucket" + Self.labels(base + [("le", "+Inf")]) + " \(histogram.count)")
            lines.append("fhir_gateway_request_duration_seconds_sum" + Self.labels(base) + " \(histogram.sum)")
            lines.append("fhir_gateway_request_duration_seconds_count" + Self.labels(base) + " \(histogram.count)")
        }
        lines.append("# HELP fhir_gateway_token_failures_total Refused tokens, by tenant and reason.")
        lines.append("# TYPE fhir_gateway_token_failures_total counter")
        for (key, value) in state.tokenFailures.sorted(by: { $0.key.joined() < $1.key.joined() }) {
            lines.append("fhir_gateway_token_failures_total" + Self.labels([("tenant", key[0]), ("reason", key[1])]) + " \(value)")
        }
        lines.append("# HELP fhir_gateway_audit_write_failures_total Audit records that could not be written (the request was refused).")
        lines.append("# TYPE fhir_gateway_audit_write_failures_total counter")
        for (tenant, value) in state.auditFailures.sorted(by: { $0.key < $1.key }) {
            lines.append("fhir_gateway_audit_write_failures_total" + Self.labels([("tenant", tenant)]) + " \(value)")
        }
        lines.append("# HELP fhir_gateway_requests_in_flight Requests being answered now.")
        lines.append("# TYPE fhir_gateway_requests_in_flight gauge")
        lines.append("fhir_gateway_requests_in_flight \(state.inFlight)")
        let pool = database()
        lines.append("# HELP fhir_gateway_db_calls_in_flight Database calls holding a pooled connection now.")
        lines.append("# TYPE fhir_gateway_db_calls_in_flight gauge")
        lines.append("fhir_gateway_db_calls_in_flight \(pool.active)")
        lines.append("# HELP fhir_gateway_db_pool_max_connections Size of the gateway's database connection pool.")
        lines.append("# TYPE fhir_gateway_db_pool_max_connections gauge")
        lines.append("fhir_gateway_db_pool_max_connections \(pool.maximum)")
        return lines.joined(separator: "\n") + "\n"
    }
}
