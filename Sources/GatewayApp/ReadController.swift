import FHIRModels
import GatewayAuth
import GatewayStore
import HMSMapping
import Hummingbird

/// `read` and `vread` of HMS resources, with `ETag`, `Last-Modified` and conditional read.
struct ReadController {
    let services: GatewayServices
    let tenant: ResolvedTenant
    let scope: TenantScope
    var subjects = AuditSubjects()

    /// Same answer for another tenant's id and for an id that exists nowhere.
    static let notFound = FHIRError.notFound("resource not found")

    func read(type: String, id: String, version: String?, request: Request, contentType: String) async throws -> Response {
        guard var row = try await tenant.repository.read(type, id: id, scope: scope) else { throw Self.notFound }
        var (versionID, updatedAt) = ResourceRendering.version(type, row: row)
        if let version, version != versionID {
            guard TenantTypes.isStored(type), let number = EntityTag.version(version),
                  let old = try await tenant.repository.version(type, id: id, versionID: number, scope: scope) else {
                throw FHIRError.notFound(TenantTypes.isStored(type) ? "version not found" : "version not found; the HMS keeps only the current version")
            }
            row = old
            (versionID, updatedAt) = ResourceRendering.version(type, row: row)
        }
        guard let resource = ResourceRendering.resource(type, row: row, tenant: tenant) else { throw StoredDataError.unreadable }
        // An old version must lie inside the grant on its own, not only through the current one.
        if version != nil, TenantTypes.isStored(type), !StoredVersionAdmission.admits(resource, type: type, baseURL: tenant.baseURL, scope: scope) {
            throw Self.notFound
        }
        subjects.note(resource)
        let etag = "W/\"\(versionID)\""
        var headers = [("ETag", etag), ("Last-Modified", CivilTime.httpDate(epochSeconds: updatedAt))]
        if version != nil { headers.append(("Content-Location", "\(tenant.baseURL)/\(type)/\(id)/_history/\(versionID)")) }
        if let match = request.headers[.ifNoneMatch] {
            let candidates = match.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            if candidates.contains("*") || candidates.contains(etag) || candidates.contains("\"\(versionID)\"") {
                return FHIRResponse.notModified(headers: headers)
            }
        } else if let since = request.headers[.ifModifiedSince].flatMap(CivilTime.parseHTTPDate), updatedAt <= since {
            return FHIRResponse.notModified(headers: headers)
        }
        return FHIRResponse.json(resource, contentType: contentType, headers: headers)
    }
}
