import BulkExport
import Crypto
import Foundation
import GatewayStore
import Synchronization

/// Export files at rest: the storage, and each tenant's data key (stored wrapped by the
/// key-encryption key, unwrapped on first use and kept in memory).
final class ExportVault: Sendable {
    let storage: any ExportFileStorage
    private let envelope: DataKeyEnvelope
    private let keys = Mutex<[String: SymmetricKey]>([:])

    init(storage: any ExportFileStorage, envelope: DataKeyEnvelope) {
        self.storage = storage
        self.envelope = envelope
    }

    /// Where a job's files live: one folder per tenant and job.
    static func folder(tenantID: String, jobID: String) -> String { "\(tenantID)/\(jobID)" }

    /// The name a file is stored under, which is also what its records are bound to.
    static func path(tenantID: String, jobID: String, file: String) -> String { "\(folder(tenantID: tenantID, jobID: jobID))/\(file)" }

    /// The tenant's current data key, made and stored (wrapped) the first time.
    func currentKey(tenantID: String, repository: HMSRepository) async throws -> (keyID: String, key: SymmetricKey) {
        let envelope = self.envelope
        let stored = try await repository.exportDataKey(tenantID: tenantID) {
            let keyID = UUID().uuidString.lowercased()
            return (keyID, try envelope.newDataKey(tenantID: tenantID, keyID: keyID).wrapped)
        }
        return (stored.keyID, try unwrapped(tenantID: tenantID, keyID: stored.keyID, wrapped: stored.wrapped))
    }

    /// The data key a file names in its header.
    func key(tenantID: String, keyID: String, repository: HMSRepository) async throws -> SymmetricKey {
        if let key = keys.withLock({ $0["\(tenantID)|\(keyID)"] }) { return key }
        guard let wrapped = try await repository.exportDataKey(tenantID: tenantID, keyID: keyID) else {
            throw DataKeyEnvelope.Failure(description: "the export file's data key is not this tenant's")
        }
        return try unwrapped(tenantID: tenantID, keyID: keyID, wrapped: wrapped)
    }

    private func unwrapped(tenantID: String, keyID: String, wrapped: String) throws -> SymmetricKey {
        let cacheKey = "\(tenantID)|\(keyID)"
        if let key = keys.withLock({ $0[cacheKey] }) { return key }
        let key = try envelope.unwrap(wrapped, tenantID: tenantID, keyID: keyID)
        keys.withLock { cache in
            if cache.count >= 10_000 { cache.removeAll() }
            cache[cacheKey] = key
        }
        return key
    }

    /// Opens a stored file for reading: the header names its key, which must be the tenant's.
    func reader(tenantID: String, jobID: String, file: String, repository: HMSRepository) async throws -> EncryptedFileReader {
        let path = Self.path(tenantID: tenantID, jobID: jobID, file: file)
        // The header is read first to learn the key id; keys are fetched before the reader is made.
        let keyID = try Self.keyID(storage: storage, path: path)
        let key = try await key(tenantID: tenantID, keyID: keyID, repository: repository)
        return try EncryptedFileReader(storage: storage, name: path, fileID: path) { named in
            guard named == keyID else { throw DataKeyEnvelope.Failure(description: "the export file names another key") }
            return key
        }
    }

    private static func keyID(storage: any ExportFileStorage, path: String) throws -> String {
        var found: String?
        do {
            let reader = try EncryptedFileReader(storage: storage, name: path, fileID: path) { keyID in
                found = keyID
                throw HeaderOnly()
            }
            reader.close()
        } catch is HeaderOnly {}
        guard let found else { throw EncryptedFileFormat.Corrupt(description: "the export file has no key id") }
        return found
    }

    private struct HeaderOnly: Error {}
}
