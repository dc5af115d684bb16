import BulkExport
import Crypto
import Foundation
import Testing

/// The at-rest format of export files and the envelope of tenant keys: what was written reads back;
/// a changed, cut, moved or foreign file does not; a resumed file holds exactly what was committed.
@Suite struct ExportFileTests {
    static func storage() throws -> DirectoryFileStorage { try DirectoryFileStorage(root: try GatewayFixture.makeDirectory()) }

    static func readAll(_ storage: DirectoryFileStorage, _ name: String, fileID: String? = nil, key: SymmetricKey) throws -> [UInt8] {
        let reader = try EncryptedFileReader(storage: storage, name: name, fileID: fileID ?? name) { _ in key }
        var bytes: [UInt8] = []
        while let record = try reader.next() { bytes += record }
        return bytes
    }

    static func lines(_ range: Range<Int>) -> [UInt8] { Array(range.map { "{\"resourceType\":\"Patient\",\"id\":\"\($0)\"}\n" }.joined().utf8) }

    @Test func whatIsWrittenReadsBackAcrossRecords() throws {
        let storage = try Self.storage()
        let key = SymmetricKey(size: .bits256)
        let writer = try EncryptedFileWriter(storage: storage, name: "t/j/Patient-1.ndjson", fileID: "t/j/Patient-1.ndjson", key: key, keyID: "k1", resume: nil)
        let text = Self.lines(0..<40_000)  // about 1.5 MiB: more than one record
        try writer.append(text)
        _ = try writer.finish()
        #expect(try Self.readAll(storage, "t/j/Patient-1.ndjson", key: key) == text)
        let raw = try #require(FileManager.default.contents(atPath: "\(storage.root)/t/j/Patient-1.ndjson"))
        #expect(!String(decoding: raw, as: UTF8.self).contains("Patient\""), "nothing readable at rest")
    }

    @Test func alteredCutMovedOrForeignFilesDoNotRead() throws {
        let storage = try Self.storage()
        let key = SymmetricKey(size: .bits256)
        let name = "t/j/Observation-1.ndjson"
        let writer = try EncryptedFileWriter(storage: storage, name: name, fileID: name, key: key, keyID: "k1", resume: nil)
        try writer.append(Self.lines(0..<100))
        _ = try writer.checkpoint()
        try writer.append(Self.lines(100..<200))
        _ = try writer.finish()
        let path = "\(storage.root)/\(name)"
        let original = try #require(FileManager.default.contents(atPath: path))

        var flipped = original
        flipped[flipped.count - 20] ^= 0x01
        try flipped.write(to: URL(fileURLWithPath: path))
        #expect(throws: EncryptedFileFormat.Corrupt.self) { try Self.readAll(storage, name, key: key) }

        // Cut after the first record: it decrypts, but the file must not end there.
        let headerAndFirst = 6 + 1 + 2 + 4 + 12 + Self.lines(0..<100).count + 16
        try original.prefix(headerAndFirst).write(to: URL(fileURLWithPath: path))
        #expect(throws: EncryptedFileFormat.Corrupt.self) { try Self.readAll(storage, name, key: key) }

        try original.write(to: URL(fileURLWithPath: path))
        #expect(throws: EncryptedFileFormat.Corrupt.self) { try Self.readAll(storage, name, fileID: "other-tenant/j/Observation-1.ndjson", key: key) }
        #expect(throws: EncryptedFileFormat.Corrupt.self) { try Self.readAll(storage, name, key: SymmetricKey(size: .bits256)) }
        #expect(try Self.readAll(storage, name, key: key) == Self.lines(0..<200))
    }

    @Test func aResumedFileHoldsExactlyWhatWasCommittedThenTheRest() throws {
        let storage = try Self.storage()
        let key = SymmetricKey(size: .bits256)
        let name = "t/j/Encounter-1.ndjson"
        let writer = try EncryptedFileWriter(storage: storage, name: name, fileID: name, key: key, keyID: "k1", resume: nil)
        try writer.append(Self.lines(0..<500))
        let committed = try writer.checkpoint()
        let plaintext = writer.plaintextBytes
        try writer.append(Self.lines(500..<900))  // written by a runner that dies before its next checkpoint
        _ = try writer.checkpoint()
        writer.abandon()

        let resumed = try EncryptedFileWriter(storage: storage, name: name, fileID: name, key: key, keyID: "k1", resume: committed, plaintextBytes: plaintext)
        try resumed.append(Self.lines(500..<1000))
        _ = try resumed.finish()
        #expect(try Self.readAll(storage, name, key: key) == Self.lines(0..<1000))
    }

    @Test func tenantKeysUnwrapOnlyWithTheirKeyAndTenant() throws {
        let directory = try GatewayFixture.makeDirectory()
        let (envelope, created) = try DataKeyEnvelope.loadOrCreate(path: "\(directory)/kek")
        #expect(created)
        let (again, createdAgain) = try DataKeyEnvelope.loadOrCreate(path: "\(directory)/kek")
        #expect(!createdAgain)
        let attributes = try FileManager.default.attributesOfItem(atPath: "\(directory)/kek")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let (key, wrapped) = try envelope.newDataKey(tenantID: "tenant-a", keyID: "k1")
        let unwrapped = try again.unwrap(wrapped, tenantID: "tenant-a", keyID: "k1")
        #expect(unwrapped.withUnsafeBytes { Array($0) } == key.withUnsafeBytes { Array($0) })
        #expect(throws: DataKeyEnvelope.Failure.self) { try again.unwrap(wrapped, tenantID: "tenant-b", keyID: "k1") }
        #expect(throws: DataKeyEnvelope.Failure.self) { try again.unwrap(wrapped, tenantID: "tenant-a", keyID: "k2") }
        let other = DataKeyEnvelope(keyEncryptionKey: SymmetricKey(size: .bits256))
        #expect(throws: DataKeyEnvelope.Failure.self) { try other.unwrap(wrapped, tenantID: "tenant-a", keyID: "k1") }
        try "not a key".write(toFile: "\(directory)/bad", atomically: true, encoding: .utf8)
        #expect(throws: DataKeyEnvelope.Failure.self) { try DataKeyEnvelope.loadOrCreate(path: "\(directory)/bad") }
    }

    @Test func namesThatCouldLeaveTheFolderAreRefused() throws {
        let storage = try Self.storage()
        for name in ["../x", "a/../../x", "a//b", "", "a/./b", "a\0b"] {
            #expect(throws: ExportStorageError.self) { _ = try storage.appender(name, truncatingTo: 0) }
        }
    }
}
