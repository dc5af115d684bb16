import BulkExport

/// Where a running job stands, saved at every checkpoint: the pass, the last key written, and the
/// files with their committed lengths. A job resumed elsewhere truncates the open file to its
/// checkpoint and continues after the key, so nothing is written twice or left out.
struct ExportProgress: Codable, Sendable, Equatable {
    struct File: Codable, Sendable, Equatable {
        var name: String
        var type: String
        var count: Int64
        var checkpoint: EncryptedFileWriter.Checkpoint
        var plaintextBytes: Int64
        var complete: Bool
    }

    var pass = 0
    var afterKey: String?
    var files: [File] = []
    var errors: File?
    var exported: Int64 = 0
}
