import Crypto
import Foundation

/// The at-rest form of an export file: a header, then records, each sealed with AES-256-GCM under the
/// tenant's data key.
///
///     header:  "FGXE1\n" (6 bytes), key id length (1 byte), key id (UTF-8)
///     record:  plaintext length (UInt32, big-endian), nonce (12 bytes), ciphertext, tag (16 bytes)
///
/// Each record's additional data binds it to its file (tenant, job and file name), its position and
/// whether it is the last, so records cannot be moved between files or reordered, and a file cut
/// after any record fails to decrypt instead of ending early. The last record may be empty.
public enum EncryptedFileFormat {
    static let magic: [UInt8] = Array("FGXE1\n".utf8)
    static let nonceBytes = 12
    static let tagBytes = 16
    /// Plaintext bytes sealed per record; a reader never holds more than one record.
    public static let recordBytes = 1 << 20

    static func header(keyID: String) -> [UInt8] {
        let id = Array(keyID.utf8.prefix(255))
        return magic + [UInt8(id.count)] + id
    }

    static func additionalData(fileID: String, index: Int, final: Bool) -> [UInt8] {
        Array("\(fileID)|\(index)|\(final ? 1 : 0)".utf8)
    }

    public struct Corrupt: Error, Sendable, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }
}

/// Writes one encrypted file, record by record; resumable from a checkpoint.
public final class EncryptedFileWriter: @unchecked Sendable {
    /// Where a file stands after a checkpoint: what a resumed job truncates to and continues from.
    public struct Checkpoint: Sendable, Equatable, Codable {
        public var bytes: Int64
        public var records: Int
        public init(bytes: Int64, records: Int) {
            self.bytes = bytes
            self.records = records
        }
    }

    private let appender: any ExportFileAppender
    private let key: SymmetricKey
    private let fileID: String
    private var pending: [UInt8] = []
    private var written: Checkpoint
    /// Plaintext bytes in the file so far (sealed and pending).
    public private(set) var plaintextBytes: Int64

    /// Opens `name` for a new file (`resume` nil) or to continue after `resume`.
    public init(storage: any ExportFileStorage, name: String, fileID: String, key: SymmetricKey, keyID: String,
                resume: Checkpoint?, plaintextBytes: Int64 = 0) throws {
        self.key = key
        self.fileID = fileID
        self.plaintextBytes = plaintextBytes
        if let resume {
            appender = try storage.appender(name, truncatingTo: resume.bytes)
            written = resume
        } else {
            appender = try storage.appender(name, truncatingTo: 0)
            let header = EncryptedFileFormat.header(keyID: keyID)
            try appender.append(header)
            written = Checkpoint(bytes: Int64(header.count), records: 0)
        }
        pending.reserveCapacity(EncryptedFileFormat.recordBytes)
    }

    public func append(_ bytes: some Collection<UInt8>) throws {
        pending.append(contentsOf: bytes)
        plaintextBytes += Int64(bytes.count)
        if pending.count >= EncryptedFileFormat.recordBytes { try seal(final: false) }
    }

    /// Seals what is pending and makes the file durable up to here.
    public func checkpoint() throws -> Checkpoint {
        if !pending.isEmpty { try seal(final: false) }
        try appender.sync()
        return written
    }

    /// Seals the last record; the file is complete.
    public func finish() throws -> Checkpoint {
        try seal(final: true)
        try appender.sync()
        appender.close()
        return written
    }

    public func abandon() { appender.close() }

    private func seal(final: Bool) throws {
        let box = try AES.GCM.seal(pending, using: key, nonce: AES.GCM.Nonce(),
                                   authenticating: EncryptedFileFormat.additionalData(fileID: fileID, index: written.records, final: final))
        var record = [UInt8]()
        record.reserveCapacity(4 + EncryptedFileFormat.nonceBytes + pending.count + EncryptedFileFormat.tagBytes)
        let length = UInt32(pending.count)
        record += [UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)]
        record += box.nonce
        record += box.ciphertext
        record += box.tag
        try appender.append(record)
        written.bytes += Int64(record.count)
        written.records += 1
        pending.removeAll(keepingCapacity: true)
    }
}

/// Reads an encrypted file back, one record at a time.
public final class EncryptedFileReader: @unchecked Sendable {
    private let reader: any ExportFileReader
    private let key: SymmetricKey
    private let fileID: String
    private var index = 0
    private var finished = false
    public let keyID: String

    /// Opens `name`; `keys` gives the data key for the key id in the file's header.
    public init(storage: any ExportFileStorage, name: String, fileID: String, keys: (String) throws -> SymmetricKey) throws {
        reader = try storage.reader(name)
        let magic = try reader.read(EncryptedFileFormat.magic.count)
        guard magic == EncryptedFileFormat.magic, let length = try reader.read(1).first else {
            reader.close()
            throw EncryptedFileFormat.Corrupt(description: "not an export file")
        }
        let id = try reader.read(Int(length))
        guard id.count == Int(length) else {
            reader.close()
            throw EncryptedFileFormat.Corrupt(description: "the export file's header is cut short")
        }
        keyID = String(decoding: id, as: UTF8.self)
        do { key = try keys(keyID) } catch {
            reader.close()
            throw error
        }
        self.fileID = fileID
    }

    /// The next record's plaintext; nil after the last record. Throws if the file was altered or cut.
    public func next() throws -> [UInt8]? {
        guard !finished else { return nil }
        let prefix = try reader.read(4)
        guard prefix.count == 4 else { throw EncryptedFileFormat.Corrupt(description: "the export file ends before its last record") }
        let length = Int(prefix[0]) << 24 | Int(prefix[1]) << 16 | Int(prefix[2]) << 8 | Int(prefix[3])
        guard length <= EncryptedFileFormat.recordBytes * 2 else { throw EncryptedFileFormat.Corrupt(description: "an export record is too long") }
        let body = try reader.read(EncryptedFileFormat.nonceBytes + length + EncryptedFileFormat.tagBytes)
        guard body.count == EncryptedFileFormat.nonceBytes + length + EncryptedFileFormat.tagBytes else {
            throw EncryptedFileFormat.Corrupt(description: "the export file ends inside a record")
        }
        let nonce = try AES.GCM.Nonce(data: body[0..<EncryptedFileFormat.nonceBytes])
        let box = try AES.GCM.SealedBox(nonce: nonce, ciphertext: body[EncryptedFileFormat.nonceBytes..<(EncryptedFileFormat.nonceBytes + length)],
                                        tag: body[(EncryptedFileFormat.nonceBytes + length)...])
        // Whether this is the last record is not stored in the clear: try "not last", then "last".
        if let plain = try? AES.GCM.open(box, using: key, authenticating: EncryptedFileFormat.additionalData(fileID: fileID, index: index, final: false)) {
            index += 1
            return [UInt8](plain)
        }
        guard let plain = try? AES.GCM.open(box, using: key, authenticating: EncryptedFileFormat.additionalData(fileID: fileID, index: index, final: true)) else {
            throw EncryptedFileFormat.Corrupt(description: "an export record does not decrypt: the file was altered or belongs elsewhere")
        }
        finished = true
        reader.close()
        return [UInt8](plain)
    }

    public func close() { reader.close() }
}
