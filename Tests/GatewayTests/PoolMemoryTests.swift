import Foundation
@testable import GatewayStore
import PostgresNIO
import Testing

/// Leasing a pooled connection must not leave memory behind. With postgres-nio's default pool
/// options each lease left about 1.7 KB until a cancelled timer's deadline (40 MB per 24,000
/// leases). Measured in a process of its own (`scripts/test.sh` runs it alone), since other tests
/// running beside it would move the resident size too.
@Suite(.enabled(if: StoreKind.postgresURL != nil && ProcessInfo.processInfo.environment["FHIR_TEST_POOL_MEMORY"] != nil,
                "scripts/test.sh runs it alone, with the PostgreSQL it starts"))
struct PoolMemoryTests {
    static func residentKilobytes() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    static func lease(_ pool: PostgresGatewayPool, times: Int) async {
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    for _ in 0..<(times / 16) {
                        _ = try? await pool.withConnection { connection in try await connection.query("SELECT 1", logger: testLogger) }
                    }
                }
            }
        }
    }

    @Test func leasesLeaveNoMemoryBehind() async throws {
        let fixture = try await GatewayFixture.shared(.postgres)
        let backend = fixture.repository.backend
        let pool = try #require(((backend as? TracedBackend)?.base ?? backend) as? PostgresBackend).pool
        await Self.lease(pool, times: 4_000)
        let before = Self.residentKilobytes()
        await Self.lease(pool, times: 24_000)
        let grown = Self.residentKilobytes() - before
        #expect(grown < 8_000, "24,000 leases grew the resident size by \(grown) kB")
    }
}
