import Logging
import PostgresNIO
import Synchronization

/// The gateway role's connection pool, made to fail fast and recover fast.
///
/// postgres-nio keeps a request waiting while it retries connecting (about a minute before its
/// circuit breaker opens) and, once the database is back, retries on a backoff of many seconds. So:
/// - a probe runs `SELECT 1` on a direct connection of its own every ``probeInterval``; a probe that
///   fails (connection refused or closed) marks the store unavailable, and so do two probes in a
///   row that take longer than ``probeTimeout`` (one slow answer on a loaded machine is no outage);
/// - while unavailable, calls fail at once, and calls already waiting for a connection give up;
///   a busy pool alone never does this: waiting for a free connection is not an outage;
/// - while unavailable, each probe uses a fresh client; the first that connects replaces the
///   pool's client, whose backoff would delay recovery (the old one keeps running until the calls
///   that picked it finish, at most ``retirement``).
final class PostgresGatewayPool: Sendable {
    static let probeInterval: Duration = .milliseconds(400)
    static let probeTimeout: Duration = .milliseconds(900)
    static let retirement: Duration = .seconds(30)

    /// The store is unreachable (503).
    struct Unavailable: Error {}

    private final class Flag: Sendable {
        private let value = Atomic<Bool>(false)
        func set() { value.store(true, ordering: .releasing) }
        var isSet: Bool { value.load(ordering: .acquiring) }
    }

    /// Calls running on one client, so a retired client stops as soon as its last call ends.
    private final class Usage: Sendable {
        private let calls = Atomic<Int>(0)
        func begin() { calls.wrappingAdd(1, ordering: .relaxed) }
        func end() { calls.wrappingSubtract(1, ordering: .relaxed) }
        var isIdle: Bool { calls.load(ordering: .relaxed) == 0 }
    }

    private struct Clients: Sendable {
        var pool: PostgresClient
        var usage = Usage()
        var poolRunner: Task<Void, Never>?
        var retired: [Int: Task<Void, Never>] = [:]
        var nextRetirement = 0
    }

    private let configuration: PostgresClient.Configuration
    private let probeConfiguration: PostgresConnection.Configuration
    private let logger: Logger
    private let clients: Mutex<Clients>
    private let available = Atomic<Bool>(true)
    private let probeConnection = Mutex<PostgresConnection?>(nil)

    enum ProbeResult { case answered, failed, timedOut }

    init(configuration: PostgresClient.Configuration, probe: PostgresConnection.Configuration, logger: Logger) {
        self.configuration = configuration
        self.probeConfiguration = probe
        self.logger = logger
        // The client runs from the start, so a call made just before ``run()`` is scheduled finds it running.
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.clients = Mutex(Clients(pool: client, poolRunner: Task { await client.run() }))
    }

    var isAvailable: Bool { available.load(ordering: .relaxed) }

    /// Probes and replaces the pool until cancelled, then stops every client.
    func run() async {
        var slowProbes = 0
        while !Task.isCancelled {
            try? await Task.sleep(for: Self.probeInterval)
            if Task.isCancelled { break }
            if isAvailable {
                switch await probe() {
                case .answered: slowProbes = 0
                case .timedOut: slowProbes += 1
                case .failed: slowProbes = 2
                }
                if slowProbes >= 2 {
                    slowProbes = 0
                    available.store(false, ordering: .relaxed)
                    logger.warning("database unavailable: failing fast until it answers again")
                }
            } else {
                await reconnect()
            }
        }
        if let connection = probeConnection.withLock({ current -> PostgresConnection? in defer { current = nil }; return current }) {
            try? await connection.close()
        }
        let runners = clients.withLock { [$0.poolRunner].compactMap { $0 } + Array($0.retired.values) }
        for runner in runners { runner.cancel() }
        for runner in runners { await runner.value }
    }

    /// Leases a connection and runs `body` with it; gives up as soon as the store is unavailable, or
    /// once the client it waits on has been replaced. A call that picked the old client just before an
    /// outage was noticed would otherwise wait for that client's reconnect backoff (a minute) after
    /// the database was back, holding up whatever waits on it (the audit group commit) and keeping
    /// the retired client's connections open.
    func withConnection<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        guard isAvailable else { throw Unavailable() }
        let (client, usage) = clients.withLock { ($0.pool, $0.usage) }
        usage.begin()
        defer { usage.end() }
        return try await Self.leased(from: client, giveUp: { [self] in
            !isAvailable || clients.withLock { $0.usage } !== usage
        }, body)
    }

    /// Runs `body` on a connection of `client`, unless `giveUp` turns true before one is leased.
    private static func leased<T: Sendable>(from client: PostgresClient, giveUp: @escaping @Sendable () -> Bool,
                                            _ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let started = Flag()
        return try await withoutActuallyEscaping(body) { body in
            try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask {
                    try await client.withConnection { connection in
                        started.set()
                        return try await body(connection)
                    }
                }
                group.addTask {
                    while !started.isSet {
                        if giveUp() { throw Unavailable() }
                        try await Task.sleep(for: .milliseconds(50))
                    }
                    return nil
                }
                while let result = try await group.next() {
                    if let value = result {
                        group.cancelAll()
                        return value
                    }
                }
                throw Unavailable()
            }
        }
    }

    /// Whether a direct connection runs `SELECT 1` within ``probeTimeout``. Never waits much longer,
    /// even if the database stops answering on an open connection (that probe then finishes alone).
    private func probe() async -> ProbeResult {
        let clock = ContinuousClock()
        let deadline = clock.now + Self.probeTimeout
        let configuration = probeConfiguration
        let logger = self.logger
        return await withCheckedContinuation { (continuation: CheckedContinuation<ProbeResult, Never>) in
            let once = Mutex<CheckedContinuation<ProbeResult, Never>?>(continuation)
            let resume: @Sendable (ProbeResult) -> Void = { result in once.withLock { $0.take() }?.resume(returning: result) }
            Task {
                do {
                    // One connection serves every probe while it lives; a stopped server closes it, and
                    // the next probe fails at once instead of waiting for a timeout.
                    let connection: PostgresConnection
                    if let open = self.probeConnection.withLock({ $0 }), !open.isClosed {
                        connection = open
                    } else {
                        connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
                        self.probeConnection.withLock { $0 = connection }
                    }
                    try await connection.query("SELECT 1", logger: logger)
                    resume(clock.now <= deadline ? .answered : .timedOut)
                } catch {
                    let dropped = self.probeConnection.withLock { current -> PostgresConnection? in
                        defer { current = nil }
                        return current
                    }
                    if let dropped { try? await dropped.close() }
                    resume(clock.now <= deadline ? .failed : .timedOut)
                }
            }
            Task {
                try? await Task.sleep(until: deadline, clock: clock)
                resume(.timedOut)
            }
        }
    }

    /// When a probe answers again, a fresh client becomes the pool (the old one's reconnect backoff
    /// would delay recovery by many seconds).
    private func reconnect() async {
        guard await probe() == .answered else { return }
        let candidate = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let candidateRunner = Task { await candidate.run() }
        let (replaced, replacedUsage) = clients.withLock { clients -> (Task<Void, Never>?, Usage) in
            let old = (clients.poolRunner, clients.usage)
            clients.pool = candidate
            clients.usage = Usage()
            clients.poolRunner = candidateRunner
            return old
        }
        available.store(true, ordering: .relaxed)
        logger.notice("database reachable again")
        guard let replaced else { return }
        clients.withLock { clients in
            let key = clients.nextRetirement
            clients.nextRetirement += 1
            clients.retired[key] = Task {
                // The old client keeps its fixed set of connections open: stop it once its calls are done.
                let deadline = ContinuousClock.now + Self.retirement
                while !replacedUsage.isIdle, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(100)) }
                replaced.cancel()
                await replaced.value
                _ = self.clients.withLock { $0.retired.removeValue(forKey: key) }
            }
        }
    }
}
