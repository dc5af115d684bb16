import Foundation
@testable import GatewayStore
import HMSMapping
import Testing

/// A write transaction whose task is cancelled half-way is rolled back, and the next one starts:
/// on SQLite the ROLLBACK used to be refused for the cancelled task, leaving the one writer
/// connection inside the transaction (every later BEGIN failed; export workers stopping with
/// their application cancel such tasks).
@Suite struct CancelledTransactionTests {
    @Test func aCancelledWriteDoesNotWedgeTheSQLiteWriter() async throws {
        let directory = try GatewayFixture.makeDirectory()
        try await HMSRepository.withOpen(.sqlite(path: "\(directory)/cancel.sqlite"), logger: testLogger) { repository in
            try await repository.migrate()
            let started = AsyncStream<Void>.makeStream()
            let stuck = Task {
                try await repository.backend.withWriteTransaction(tenantID: UUID().uuidString.lowercased(), lockKeys: []) { _ in
                    started.continuation.yield()
                    try await Task.sleep(for: .seconds(30))
                }
            }
            var iterator = started.stream.makeAsyncIterator()
            await iterator.next()
            stuck.cancel()
            _ = await stuck.result
            let answer = try await repository.backend.withWriteTransaction(tenantID: UUID().uuidString.lowercased(), lockKeys: []) { transaction in
                try await transaction.query("SELECT 1 AS one", columns: [HMSColumn("one", .integer)]).first?.integer("one")
            }
            #expect(answer == 1)
        }
    }
}
