import FHIRModels
import FHIRSearch
import Synchronization

/// What a request touched, noted by the controllers for its audit record: resources and patients.
final class AuditSubjects: Sendable {
    private struct Noted {
        var resources: [String] = []
        var patients: [String] = []
        var entries: [Entry] = []
        var query: String?
        var requestAudited = false
        var export: Export?
    }

    /// A Bulk Data job the request touched: the job, the file downloaded, how many resources.
    struct Export: Sendable {
        let job: String
        let file: String?
        let count: Int64?
    }

    /// One entry of a transaction or batch, audited on its own.
    struct Entry: Sendable {
        let interaction: String
        let status: Int
        let resource: JSON?
        /// Already recorded in the write's own transaction.
        var audited = false
    }

    private let noted = Mutex(Noted())
    /// The tenant's base, so absolute local references name their patient too.
    let baseURL: String?

    init(baseURL: String? = nil) { self.baseURL = baseURL }
    /// Bound on entities per record; a search page is at most the maximum page size plus includes.
    static let limit = 1000

    func note(_ resource: JSON) {
        guard let type = resource["resourceType"]?.stringValue, let id = resource["id"]?.stringValue else { return }
        var patient: String?
        if type == "Patient" {
            patient = id
        } else if let text = resource["subject"]?["reference"]?.stringValue ?? resource["patient"]?["reference"]?.stringValue,
                  let reference = LocalReference.parse(text, baseURL: baseURL), reference.type == "Patient" {
            patient = reference.id
        }
        noted.withLock { noted in
            guard noted.resources.count < Self.limit else { return }
            noted.resources.append("\(type)/\(id)")
            if let patient, !noted.patients.contains(patient) { noted.patients.append(patient) }
        }
    }

    /// An export's patients are not listed one by one: the record names the job and the count.
    func noteExport(job: String, file: String?, count: Int64?) { noted.withLock { $0.export = Export(job: job, file: file, count: count) } }

    var export: Export? { noted.withLock { $0.export } }

    func noteEntry(_ entry: Entry) { noted.withLock { $0.entries.append(entry) } }

    /// The search as applied (URL and body criteria together), for the record's query entity.
    func noteQuery(_ query: String) { noted.withLock { $0.query = query } }

    var query: String? { noted.withLock { $0.query } }

    /// The request's own record was committed with its write; the responder adds none.
    func markRequestAudited() { noted.withLock { $0.requestAudited = true } }

    var requestAudited: Bool { noted.withLock { $0.requestAudited } }

    var entries: [Entry] { noted.withLock { $0.entries } }
    var resources: [String] { noted.withLock { $0.resources } }
    var patients: [String] { noted.withLock { $0.patients } }
}
