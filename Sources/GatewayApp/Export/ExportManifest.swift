import FHIRModels
import GatewayStore

/// The completion manifest of Bulk Data 2.0: one output entry per file (one type per file).
enum ExportManifest {
    static func render(job: HMSRepository.ExportJob, transactionTime: Int64, parameters: ExportParameters, progress: ExportProgress,
                       baseURL: String) -> JSON {
        func entry(_ file: ExportProgress.File) -> JSON {
            .object(["type": .string(file.type), "url": .string(fileURL(baseURL: baseURL, jobID: job.id, file: file.name)), "count": .int(Int(file.count))])
        }
        var manifest = JSONObject()
        manifest.append("transactionTime", CivilTime.isoInstant(epochSeconds: transactionTime))
        manifest.append("request", job.request)
        manifest.append("requiresAccessToken", .bool(true))
        manifest.append("output", .array(progress.files.filter { $0.count > 0 }.map(entry)))
        manifest.append("error", .array(progress.errors.map { [entry($0)] } ?? []))
        // Nothing the gateway serves is ever deleted (HMS records are kept, lab results are never removed).
        if parameters.since != nil { manifest.append("deleted", .array([])) }
        return .object(manifest)
    }

    static func statusURL(baseURL: String, jobID: String) -> String { "\(baseURL)/$export-status/\(jobID)" }

    static func fileURL(baseURL: String, jobID: String, file: String) -> String { "\(baseURL)/$export-file/\(jobID)/\(file)" }
}
