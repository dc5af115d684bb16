import Foundation
import GatewayConfig
import Synchronization

/// Per-tenant token buckets (one per rate class) and in-flight counters, held in this process.
///
/// Limits are split, not shared: with `server.replicas` = N each process grants 1/N of a tenant's
/// rate and burst, so a balancer spreading requests evenly gives the tenant its limit in total, and
/// a refusal costs no database round trip. Concurrency caps are per process as configured.
final class TenantLimiter: Sendable {
    struct Decision: Sendable, Equatable {
        let allowed: Bool
        /// The bucket's capacity and the seconds it takes to refill from empty (the policy's window).
        let quota: Int
        let window: Int
        /// Whole requests left now, and seconds until the next one is available (refused) or the bucket is full.
        let remaining: Int
        let reset: Int
    }

    private struct Key: Hashable {
        let slug: String
        let rateClass: TenantLimits.RateClass
    }

    private struct Bucket {
        var tokens: Double
        var updated: UInt64
        var rate: Double
        var burst: Double
    }

    private struct Slots {
        var used = 0
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    private let buckets = Mutex<[Key: Bucket]>([:])
    private let inFlight = Mutex<[String: Int]>([:])
    private let connections = Mutex<[String: Slots]>([:])
    let replicas: Int

    init(replicas: Int) {
        self.replicas = max(1, replicas)
    }

    /// Takes one request from the tenant's bucket of `rateClass` if it has one.
    func take(slug: String, rateClass: TenantLimits.RateClass, limit: RateLimit,
              now: UInt64 = DispatchTime.now().uptimeNanoseconds) -> Decision {
        let rate = limit.rate / Double(replicas)
        let burst = max(1, (Double(limit.burst) / Double(replicas)).rounded(.down))
        let key = Key(slug: slug, rateClass: rateClass)
        let (allowed, tokens) = buckets.withLock { buckets -> (Bool, Double) in
            var bucket = buckets[key] ?? Bucket(tokens: burst, updated: now, rate: rate, burst: burst)
            if bucket.rate != rate || bucket.burst != burst {
                // The tenant's limits changed: keep what it has left, within the new burst.
                bucket.rate = rate
                bucket.burst = burst
                bucket.tokens = min(bucket.tokens, burst)
            }
            let elapsed = Double(now &- bucket.updated) / 1_000_000_000
            if now > bucket.updated { bucket.tokens = min(burst, bucket.tokens + elapsed * rate) }
            bucket.updated = max(bucket.updated, now)
            let allowed = bucket.tokens >= 1
            if allowed { bucket.tokens -= 1 }
            buckets[key] = bucket
            return (allowed, bucket.tokens)
        }
        let window = Self.seconds(burst / rate)
        let reset = allowed ? Self.seconds((burst - tokens) / rate) : Self.seconds((1 - tokens) / rate)
        return Decision(allowed: allowed, quota: Int(burst), window: window, remaining: Int(tokens.rounded(.down)), reset: reset)
    }

    /// Counts a request of the tenant as in flight unless `maximum` already are; pair with ``leave(slug:)``.
    func enter(slug: String, maximum: Int) -> Bool {
        inFlight.withLock { counts in
            let current = counts[slug, default: 0]
            guard current < maximum else { return false }
            counts[slug] = current + 1
            return true
        }
    }

    func leave(slug: String) {
        inFlight.withLock { counts in
            let current = counts[slug, default: 1] - 1
            counts[slug] = current > 0 ? current : nil
        }
    }

    /// Waits for one of the tenant's `maximum` database slots: past its `database_connections`, a
    /// tenant's requests queue for its own slots (the queue is bounded by its concurrency cap) and
    /// never take more of the shared pool. Pair with ``releaseConnection(slug:)``.
    func acquireConnection(slug: String, maximum: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = connections.withLock { slots -> Bool in
                var entry = slots[slug, default: Slots()]
                defer { slots[slug] = entry }
                guard entry.used < maximum else {
                    entry.waiting.append(continuation)
                    return false
                }
                entry.used += 1
                return true
            }
            if granted { continuation.resume() }
        }
    }

    func releaseConnection(slug: String) {
        let next = connections.withLock { slots -> CheckedContinuation<Void, Never>? in
            guard var entry = slots[slug] else { return nil }
            defer { slots[slug] = entry.used == 0 && entry.waiting.isEmpty ? nil : entry }
            // The slot passes straight to the first waiter.
            if !entry.waiting.isEmpty { return entry.waiting.removeFirst() }
            entry.used -= 1
            return nil
        }
        next?.resume()
    }

    /// Forgets a deleted tenant's buckets.
    func forget(slug: String) {
        buckets.withLock { buckets in buckets = buckets.filter { $0.key.slug != slug } }
    }

    /// Whole seconds, at least 1, without trapping on an infinite or huge value.
    static func seconds(_ value: Double) -> Int {
        guard value.isFinite, value > 0 else { return 1 }
        return Int(min(value.rounded(.up), 86_400))
    }
}
