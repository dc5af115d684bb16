import Crypto
import Foundation
import Glibc

/// Envelope encryption of the tenants' data keys: each tenant's key is stored only wrapped
/// (AES-256-GCM) by the key-encryption key from configuration, bound to the tenant and key id.
public struct DataKeyEnvelope: Sendable {
    private let keyEncryptionKey: SymmetricKey

    public init(keyEncryptionKey: SymmetricKey) { self.keyEncryptionKey = keyEncryptionKey }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// Reads the key-encryption key (32 bytes, base64) from `path`, creating it (owner-only) when absent.
    /// Creation is atomic (a complete temporary file linked into place), so processes starting
    /// together end up with one key between them.
    public static func loadOrCreate(path: String) throws -> (envelope: DataKeyEnvelope, created: Bool) {
        if let envelope = try load(path: path) { return (envelope, false) }
        if let slash = path.lastIndex(of: "/") {
            try FileManager.default.createDirectory(atPath: String(path[..<slash]), withIntermediateDirectories: true)
        }
        let key = SymmetricKey(size: .bits256)
        let text = key.withUnsafeBytes { Data($0).base64EncodedString() } + "\n"
        let temporary = path + ".\(UUID().uuidString).tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw Failure(description: "cannot create the key-encryption key file")
        }
        defer { unlink(temporary) }
        if link(temporary, path) == 0 { return (DataKeyEnvelope(keyEncryptionKey: key), true) }
        guard errno == EEXIST, let envelope = try load(path: path) else { throw Failure(description: "cannot create the key-encryption key file") }
        return (envelope, false)
    }

    private static func load(path: String) throws -> DataKeyEnvelope? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let bytes = Data(base64Encoded: text), bytes.count == 32 else {
            throw Failure(description: "the key-encryption key file must hold 32 bytes in base64")
        }
        return DataKeyEnvelope(keyEncryptionKey: SymmetricKey(data: bytes))
    }

    /// A fresh data key and its wrapped form (what is stored).
    public func newDataKey(tenantID: String, keyID: String) throws -> (key: SymmetricKey, wrapped: String) {
        let key = SymmetricKey(size: .bits256)
        let box = try key.withUnsafeBytes { bytes in
            try AES.GCM.seal(Data(bytes), using: keyEncryptionKey, authenticating: Self.binding(tenantID: tenantID, keyID: keyID))
        }
        guard let combined = box.combined else { throw Failure(description: "cannot wrap a data key") }
        return (key, combined.base64EncodedString())
    }

    public func unwrap(_ wrapped: String, tenantID: String, keyID: String) throws -> SymmetricKey {
        guard let data = Data(base64Encoded: wrapped), let box = try? AES.GCM.SealedBox(combined: data),
              let key = try? AES.GCM.open(box, using: keyEncryptionKey, authenticating: Self.binding(tenantID: tenantID, keyID: keyID)),
              key.count == 32 else {
            throw Failure(description: "a tenant's export data key does not unwrap with the configured key-encryption key")
        }
        return SymmetricKey(data: key)
    }

    static func binding(tenantID: String, keyID: String) -> Data { Data("fhir-gateway export data key|\(tenantID)|\(keyID)".utf8) }
}
