import CoreMetrics
import GatewayConfig
import Metrics
import Prometheus
import Synchronization

/// The gateway's Prometheus series, recorded through swift-metrics into this application's own
/// `PrometheusCollectorRegistry` (never the process-global `MetricsSystem`, so several applications
/// can live in one process) and rendered at `GET /metrics`. Label values come from fixed sets: tenant
/// slugs, interactions, resource types (unknown ones become `other`), status classes and refusal
/// reasons, never PHI.
final class GatewayMetrics: Sendable {
    enum Series {
        static let requests = "fhir_gateway_requests_total"
        static let duration = "fhir_gateway_request_duration_seconds"
        static let tokenFailures = "fhir_gateway_token_failures_total"
        static let auditFailures = "fhir_gateway_audit_write_failures_total"
        static let inFlight = "fhir_gateway_requests_in_flight"
        static let databaseCalls = "fhir_gateway_db_calls_in_flight"
        static let poolSize = "fhir_gateway_db_pool_max_connections"
        static let throttled = "fhir_gateway_throttled_total"
        static let quotaWarnings = "fhir_gateway_storage_quota_total"
        static let tenants = "fhir_gateway_tenants"
        static let agreementsExpiring = "fhir_gateway_tenant_agreements_expiring"
        static let agreementsNotInForce = "fhir_gateway_tenant_agreements_not_in_force"
        static let exportJobs = "fhir_gateway_export_jobs_total"
        static let exportResources = "fhir_gateway_export_resources_total"
    }

    static let help: [String: String] = [
        Series.requests: "Requests answered, by tenant, interaction, resource type and status class.",
        Series.duration: "Time to answer a request.",
        Series.tokenFailures: "Refused tokens, by tenant and reason.",
        Series.auditFailures: "Audit records that could not be written (the request was refused).",
        Series.inFlight: "Requests being answered now.",
        Series.databaseCalls: "Database calls holding a pooled connection now.",
        Series.poolSize: "Size of the gateway's database connection pool.",
        Series.throttled: "Requests refused with 429, by tenant and limit (a rate class or concurrency).",
        Series.quotaWarnings: "Writes of tenants over their stored-resource quota, by tenant and level (soft: written and warned; hard: refused).",
        Series.tenants: "Tenants in the registry this process serves.",
        Series.agreementsExpiring: "Active tenants whose business associate agreement ends within 30 days.",
        Series.agreementsNotInForce: "Active tenants without a business associate agreement in force (their PHI routes answer 403).",
        Series.exportJobs: "Bulk Data export jobs this process ended, by tenant and outcome (completed, failed).",
        Series.exportResources: "Resources written to export files by this process, by tenant.",
    ]

    /// Resource types with a label of their own; any other becomes `other` (`{type}` in span names).
    static let knownResourceTypes = Set(TenantConfiguration.supportedResourceTypes + ["AuditEvent"])

    /// Upper bounds of the duration histogram's buckets, in seconds.
    static let bounds: [Duration] = [.milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                                     .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
                                     .milliseconds(2500)]

    private struct RequestKey: Hashable {
        let tenant: String
        let interaction: String
        let resourceType: String
        let statusClass: String
    }

    private struct LatencyKey: Hashable {
        let tenant: String
        let interaction: String
        let resourceType: String
    }

    /// Handles already made, so a request costs one lock and no allocation once its series exist.
    private struct Handles {
        var requests: [RequestKey: CoreMetrics.Counter] = [:]
        var latencies: [LatencyKey: CoreMetrics.Timer] = [:]
        var tokenFailures: [[String]: CoreMetrics.Counter] = [:]
        var auditFailures: [String: CoreMetrics.Counter] = [:]
        var labelled: [[String]: CoreMetrics.Counter] = [:]
    }

    let registry: PrometheusCollectorRegistry
    let factory: any MetricsFactory
    private let handles = Mutex(Handles())
    private let knownTypes: Set<String>
    private let database: @Sendable () -> (active: Int, maximum: Int)
    private let inFlight: CoreMetrics.Meter
    private let databaseCalls: CoreMetrics.Gauge
    private let poolSize: CoreMetrics.Gauge
    private let tenantCount: CoreMetrics.Gauge
    private let agreementsExpiring: CoreMetrics.Gauge
    private let agreementsNotInForce: CoreMetrics.Gauge

    init(knownTypes: Set<String>, database: @escaping @Sendable () -> (active: Int, maximum: Int)) {
        let registry = PrometheusCollectorRegistry()
        let factory = DescribedPrometheusFactory(registry: registry, help: Self.help, durationBuckets: [Series.duration: Self.bounds])
        self.registry = registry
        self.factory = factory
        self.knownTypes = knownTypes
        self.database = database
        self.inFlight = CoreMetrics.Meter(label: Series.inFlight, factory: factory)
        self.databaseCalls = CoreMetrics.Gauge(label: Series.databaseCalls, factory: factory)
        self.poolSize = CoreMetrics.Gauge(label: Series.poolSize, factory: factory)
        self.tenantCount = CoreMetrics.Gauge(label: Series.tenants, factory: factory)
        self.agreementsExpiring = CoreMetrics.Gauge(label: Series.agreementsExpiring, factory: factory)
        self.agreementsNotInForce = CoreMetrics.Gauge(label: Series.agreementsNotInForce, factory: factory)
    }

    func throttled(tenant: String, limit: String) { increment(Series.throttled, [("tenant", tenant), ("limit", limit)]) }

    func storageQuota(tenant: String, level: String) { increment(Series.quotaWarnings, [("tenant", tenant), ("level", level)]) }

    func exportEnded(tenant: String, outcome: String) { increment(Series.exportJobs, [("tenant", tenant), ("outcome", outcome)]) }

    func exported(tenant: String, resources: Int64) { increment(Series.exportResources, [("tenant", tenant)], by: resources) }

    func tenants(count: Int, agreementsExpiring: Int, agreementsNotInForce: Int) {
        tenantCount.record(count)
        self.agreementsExpiring.record(agreementsExpiring)
        self.agreementsNotInForce.record(agreementsNotInForce)
    }

    /// A counter of `series` with label values from fixed sets (tenant slugs and names chosen here).
    private func increment(_ series: String, _ dimensions: [(String, String)], by amount: Int64 = 1) {
        let key = [series] + dimensions.map(\.1)
        let factory = self.factory
        let counter = handles.withLock { handles in
            handles.labelled[key] ?? {
                let made = CoreMetrics.Counter(label: series, dimensions: dimensions, factory: factory)
                handles.labelled[key] = made
                return made
            }()
        }
        counter.increment(by: amount)
    }

    func started() { inFlight.increment() }

    func finished(record: RequestRecord, status: Int, duration: Duration) {
        inFlight.decrement()
        let tenant = record.tenant ?? "none"
        let interaction = record.interaction ?? "none"
        let type = resourceTypeLabel(record.resourceType)
        let statusClass = Self.statusClass(status)
        let requestKey = RequestKey(tenant: tenant, interaction: interaction, resourceType: type, statusClass: statusClass)
        let latencyKey = LatencyKey(tenant: tenant, interaction: interaction, resourceType: type)
        let factory = self.factory
        let (counter, timer, failure) = handles.withLock { handles in
            let counter = handles.requests[requestKey] ?? {
                let made = CoreMetrics.Counter(label: Series.requests, dimensions: [("tenant", tenant), ("interaction", interaction),
                                                                        ("resource_type", type), ("status_class", statusClass)], factory: factory)
                handles.requests[requestKey] = made
                return made
            }()
            let timer = handles.latencies[latencyKey] ?? {
                let made = CoreMetrics.Timer(label: Series.duration, dimensions: [("tenant", tenant), ("interaction", interaction), ("resource_type", type)],
                                 factory: factory)
                handles.latencies[latencyKey] = made
                return made
            }()
            var failure: CoreMetrics.Counter?
            if let reason = record.authFailure {
                failure = handles.tokenFailures[[tenant, reason]] ?? {
                    let made = CoreMetrics.Counter(label: Series.tokenFailures, dimensions: [("tenant", tenant), ("reason", reason)], factory: factory)
                    handles.tokenFailures[[tenant, reason]] = made
                    return made
                }()
            }
            return (counter, timer, failure)
        }
        counter.increment()
        timer.record(duration: duration)
        failure?.increment()
    }

    func auditWriteFailed(tenant: String) {
        let factory = self.factory
        let counter = handles.withLock { handles in
            handles.auditFailures[tenant] ?? {
                let made = CoreMetrics.Counter(label: Series.auditFailures, dimensions: [("tenant", tenant)], factory: factory)
                handles.auditFailures[tenant] = made
                return made
            }()
        }
        counter.increment()
    }

    /// A resource type from the fixed set the gateway knows; anything else a client typed is `other`.
    func resourceTypeLabel(_ type: String?) -> String {
        type.map { knownTypes.contains($0) ? $0 : "other" } ?? "none"
    }

    static func statusClass(_ status: Int) -> String {
        switch status {
        case 100..<200: "1xx"
        case 200..<300: "2xx"
        case 300..<400: "3xx"
        case 400..<500: "4xx"
        default: "5xx"
        }
    }

    /// The Prometheus text exposition of every series; the pool gauges are read now.
    func render() -> String {
        let pool = database()
        databaseCalls.record(pool.active)
        poolSize.record(pool.maximum)
        return registry.emitToString()
    }
}
