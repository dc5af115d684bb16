import Foundation

/// Why one of the gateway's own signing keys cannot be had (its file unreadable, unwritable, or not such a key).
public struct SigningKeyFailure: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// A private key kept in a PEM file: read when the file exists, otherwise made and written (mode 0600).
enum SigningKeyFile {
    typealias Failure = SigningKeyFailure

    static func loadOrCreate<Key>(_ path: String, kind: String, curve: String, parse: (String) throws -> Key, make: () -> Key,
                                  pem: (Key) -> String) throws(Failure) -> Key {
        if let data = FileManager.default.contents(atPath: path) {
            do { return try parse(String(decoding: data, as: UTF8.self)) } catch {
                throw Failure(description: "\(kind) key '\(path)' is not a \(curve) private key in PEM")
            }
        }
        let key = make()
        let directory = (path as NSString).deletingLastPathComponent
        do {
            if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        } catch {
            throw Failure(description: "cannot create directory for '\(path)'")
        }
        guard FileManager.default.createFile(atPath: path, contents: Data(pem(key).utf8), attributes: [.posixPermissions: 0o600]) else {
            throw Failure(description: "cannot write \(kind) key '\(path)'")
        }
        return key
    }
}
