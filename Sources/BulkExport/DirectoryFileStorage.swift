import Glibc

/// Export files in a directory: owner-only permissions, one folder per tenant and job.
public struct DirectoryFileStorage: ExportFileStorage {
    public let root: String

    public init(root: String) throws(ExportStorageError) {
        self.root = root
        try Self.makeDirectories(root)
    }

    public func appender(_ name: String, truncatingTo length: Int64) throws(ExportStorageError) -> any ExportFileAppender {
        let path = try self.path(name)
        if let slash = path.lastIndex(of: "/") { try Self.makeDirectories(String(path[..<slash])) }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw ExportStorageError("cannot open an export file for writing (errno \(errno))") }
        guard ftruncate(descriptor, off_t(length)) == 0, lseek(descriptor, off_t(length), SEEK_SET) >= 0 else {
            close(descriptor)
            throw ExportStorageError("cannot position an export file (errno \(errno))")
        }
        return DescriptorFile(descriptor: descriptor)
    }

    public func reader(_ name: String) throws(ExportStorageError) -> any ExportFileReader {
        let descriptor = open(try path(name), O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw ExportStorageError("the export file is not there") }
        return DescriptorFile(descriptor: descriptor)
    }

    public func remove(prefix: String) throws(ExportStorageError) {
        let path = try self.path(prefix)
        try Self.removeTree(path)
    }

    /// Names are made by the gateway, but a name that could leave the root is refused all the same.
    private func path(_ name: String) throws(ExportStorageError) -> String {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard !parts.isEmpty, parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." && !$0.contains("\0") }) else {
            throw ExportStorageError("invalid export file name")
        }
        return root + "/" + name
    }

    static func makeDirectories(_ path: String) throws(ExportStorageError) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o700) != 0 && errno != EEXIST {
                throw ExportStorageError("cannot create the export directory (errno \(errno))")
            }
        }
    }

    static func removeTree(_ path: String) throws(ExportStorageError) {
        var status = stat()
        guard lstat(path, &status) == 0 else { return }
        if (status.st_mode & S_IFMT) == S_IFDIR {
            guard let directory = opendir(path) else { throw ExportStorageError("cannot list an export folder (errno \(errno))") }
            var children: [String] = []
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name != "." && name != ".." { children.append(name) }
            }
            closedir(directory)
            for child in children { try removeTree(path + "/" + child) }
            guard rmdir(path) == 0 || errno == ENOENT else { throw ExportStorageError("cannot remove an export folder (errno \(errno))") }
        } else {
            guard unlink(path) == 0 || errno == ENOENT else { throw ExportStorageError("cannot remove an export file (errno \(errno))") }
        }
    }
}

/// An open file descriptor, used by one task at a time.
final class DescriptorFile: ExportFileAppender, ExportFileReader, @unchecked Sendable {
    private let descriptor: Int32

    init(descriptor: Int32) { self.descriptor = descriptor }

    func append(_ bytes: [UInt8]) throws(ExportStorageError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                throw ExportStorageError("cannot write an export file (errno \(errno))")
            }
            offset += written
        }
    }

    func sync() throws(ExportStorageError) {
        guard fsync(descriptor) == 0 else { throw ExportStorageError("cannot sync an export file (errno \(errno))") }
    }

    func read(_ count: Int) throws(ExportStorageError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let got = buffer[filled...].withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if got < 0 {
                if errno == EINTR { continue }
                throw ExportStorageError("cannot read an export file (errno \(errno))")
            }
            if got == 0 { break }
            filled += got
        }
        buffer.removeLast(count - filled)
        return buffer
    }

    func close() { _ = Glibc.close(descriptor) }
}
