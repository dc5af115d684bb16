/// Where export files live. The directory on a local or shared volume is one implementation; a
/// deployment with several replicas needs storage every replica reaches (a shared volume, or an
/// object store behind this interface), because any replica may resume a job or serve its files.
///
/// Names are relative paths made by the gateway (`<tenant>/<job>/<file>`), never by a client.
public protocol ExportFileStorage: Sendable {
    /// Opens `name` for appending after its first `length` bytes (anything after them is cut off,
    /// which is how a resumed job drops what its previous runner wrote after the last checkpoint).
    func appender(_ name: String, truncatingTo length: Int64) throws(ExportStorageError) -> any ExportFileAppender
    /// Opens `name` for reading from the start.
    func reader(_ name: String) throws(ExportStorageError) -> any ExportFileReader
    /// Removes every file under `prefix` (a job's folder); absent files are not an error.
    func remove(prefix: String) throws(ExportStorageError)
}

public protocol ExportFileAppender: Sendable {
    func append(_ bytes: [UInt8]) throws(ExportStorageError)
    /// Makes everything appended so far durable.
    func sync() throws(ExportStorageError)
    func close()
}

public protocol ExportFileReader: Sendable {
    /// Exactly `count` bytes, fewer only at the end of the file (empty at the end).
    func read(_ count: Int) throws(ExportStorageError) -> [UInt8]
    func close()
}

public struct ExportStorageError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
