import CoreMetrics
import Prometheus

/// swift-metrics' factory over a ``PrometheusCollectorRegistry``, like swift-prometheus'
/// `PrometheusMetricsFactory`, except that series it knows get their `# HELP` text (the stock
/// factory registers every series without one, and the registry refuses to mix the two).
struct DescribedPrometheusFactory: MetricsFactory {
    let registry: PrometheusCollectorRegistry
    /// `# HELP` text by series name; other names are registered without.
    let help: [String: String]
    /// Histogram buckets of `Timer`s by series name.
    let durationBuckets: [String: [Duration]]
    private let stock: PrometheusMetricsFactory

    init(registry: PrometheusCollectorRegistry, help: [String: String], durationBuckets: [String: [Duration]]) {
        self.registry = registry
        self.help = help
        self.durationBuckets = durationBuckets
        var stock = PrometheusMetricsFactory(registry: registry)
        stock.durationHistogramBuckets = durationBuckets
        self.stock = stock
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        guard let descriptor = descriptor(label) else { return stock.makeCounter(label: label, dimensions: dimensions) }
        return registry.makeCounter(descriptor: descriptor, labels: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        guard let descriptor = descriptor(label) else { return stock.makeFloatingPointCounter(label: label, dimensions: dimensions) }
        return registry.makeCounter(descriptor: descriptor, labels: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard let descriptor = descriptor(label), !aggregate else {
            return stock.makeRecorder(label: label, dimensions: dimensions, aggregate: aggregate)
        }
        return registry.makeGauge(descriptor: descriptor, labels: dimensions)
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        guard let descriptor = descriptor(label) else { return stock.makeMeter(label: label, dimensions: dimensions) }
        return registry.makeGauge(descriptor: descriptor, labels: dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        guard let descriptor = descriptor(label) else { return stock.makeTimer(label: label, dimensions: dimensions) }
        return registry.makeDurationHistogram(descriptor: descriptor, labels: dimensions,
                                              buckets: durationBuckets[label] ?? stock.defaultDurationHistogramBuckets)
    }

    /// The whole series name as `metricName` (no namespace or unit parts are added), with its help text.
    private func descriptor(_ label: String) -> MetricNameDescriptor? {
        help[label].map { MetricNameDescriptor(metricName: label, unitName: "", helpText: $0) }
    }

    func destroyCounter(_ handler: any CounterHandler) { stock.destroyCounter(handler) }
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) { stock.destroyFloatingPointCounter(handler) }
    func destroyRecorder(_ handler: any RecorderHandler) { stock.destroyRecorder(handler) }
    func destroyMeter(_ handler: any MeterHandler) { stock.destroyMeter(handler) }
    func destroyTimer(_ handler: any TimerHandler) { stock.destroyTimer(handler) }
}
