import FHIRModels
import FHIRSearch
import Foundation
import GatewayAuth
import GatewayStore
import HTTPTypes
import Hummingbird

/// Create, update and history of the resources partners post (lab Observations and DiagnosticReports).
struct WriteController {
    let services: GatewayServices
    let tenant: ResolvedTenant
    let scope: TenantScope
    var subjects = AuditSubjects()

    enum Return: String { case minimal, representation, operationOutcome = "OperationOutcome" }

    static func preferredReturn(_ request: Request) -> Return {
        for value in request.headers[values: .prefer] {
            for part in value.split(separator: ",") {
                let item = part.trimmingCharacters(in: .whitespaces)
                if item.hasPrefix("return="), let choice = Return(rawValue: String(item.dropFirst("return=".count))) { return choice }
            }
        }
        return .representation
    }

    /// Checks a posted resource: structure (400), then the tenant's profile and references (422).
    func validate(_ resource: JSON, type: String, id: String?, extraIDs: Set<String> = []) async throws -> [OutcomeIssue] {
        guard resource["resourceType"]?.stringValue == type else {
            throw FHIRError.badRequest("resourceType must be \(type)", code: .structure, expression: ["resourceType"])
        }
        let structural = ResourceValidation.structuralIssues(resource, type: type)
        if !structural.isEmpty { throw FHIRError(status: 400, issues: structural) }
        var issues = ResourceValidation.profileIssues(resource, type: type, profileSet: tenant.configuration.profileSet)
        issues += try await ReferenceChecker(repository: services.repository, tenant: tenant, scope: scope)
            .problems(in: resource, type: type, extraIDs: extraIDs)
        return issues
    }

    /// The resource as it will be stored: the posted JSON, members in their order, with the
    /// server's `id` and `meta.versionId`/`lastUpdated` (other `meta` content is kept).
    static func stamped(_ resource: JSON, id: String, versionID: Int, lastUpdated: Int64) -> JSON {
        guard case .object(let object) = resource else { return resource }
        var meta = object["meta"]?.objectValue ?? JSONObject()
        meta["versionId"] = nil
        meta["lastUpdated"] = nil
        var stampedMeta = JSONObject()
        stampedMeta.append("versionId", String(versionID))
        stampedMeta.append("lastUpdated", CivilTime.isoInstant(epochSeconds: lastUpdated))
        for member in meta.members { stampedMeta.append(member.key, member.value) }
        var output = JSONObject()
        output.append("resourceType", object["resourceType"])
        output.append("id", id)
        output.append("meta", .object(stampedMeta))
        for member in object.members where !["resourceType", "id", "meta"].contains(member.key) { output.append(member.key, member.value) }
        return .object(output)
    }

    func headers(type: String, id: String, versionID: Int, lastUpdated: Int64) -> [(String, String)] {
        [("Location", "\(tenant.baseURL)/\(type)/\(id)/_history/\(versionID)"), ("ETag", "W/\"\(versionID)\""),
         ("Last-Modified", CivilTime.httpDate(epochSeconds: lastUpdated))]
    }

    func respond(_ resource: JSON, status: HTTPResponse.Status, headers: [(String, String)], prefer: Return, contentType: String, message: String) -> Response {
        switch prefer {
        case .minimal:
            var response = FHIRResponse.json(.null, status: status, contentType: contentType, headers: headers)
            response.body = .init()
            return response
        case .representation:
            return FHIRResponse.json(resource, status: status, contentType: contentType, headers: headers)
        case .operationOutcome:
            return FHIRResponse.json(OperationOutcome.resource([OutcomeIssue(severity: .information, code: .informational, diagnostics: message)]),
                                     status: status, contentType: contentType, headers: headers)
        }
    }

    func create(type: String, request: Request, contentType: String) async throws -> Response {
        let (resource, _) = try await ResourceBody.read(request)
        let ifNoneExist = try request.headers[.ifNoneExist].map { header -> SearchRequest in
            let parser = SearchParser(defaultCount: 2, maximumCount: 2, strict: true, baseURL: tenant.baseURL)
            do {
                let request = try parser.parse(resourceType: type, parameters: try QueryString.parse(header))
                guard !request.clauses.isEmpty else { throw FHIRError.badRequest("If-None-Exist has no search criteria", code: .invalid) }
                return request
            } catch var error as FHIRError {
                error.issues = error.issues.map { issue in
                    var issue = issue
                    issue.diagnostics = "If-None-Exist: " + issue.diagnostics
                    issue.expression = ["If-None-Exist"]
                    return issue
                }
                throw error
            }
        }
        let issues = try await validate(resource, type: type, id: nil)
        if !issues.isEmpty { throw FHIRError(status: 422, issues: issues) }
        let id = UUID().uuidString.lowercased()
        let now = Int64(Date().timeIntervalSince1970)
        let stored = Self.stamped(resource, id: id, versionID: 1, lastUpdated: now)
        let version = HMSRepository.StoredVersion(resourceType: type, id: id, versionID: 1, lastUpdated: now,
                                                  body: stored.serializedString, index: SearchIndex.extract(from: stored))
        let prefer = Self.preferredReturn(request)
        switch try await services.repository.create(version, ifNoneExist: ifNoneExist, scope: scope) {
        case .created:
            subjects.note(stored)
            return respond(stored, status: .created, headers: headers(type: type, id: id, versionID: 1, lastUpdated: now), prefer: prefer,
                           contentType: contentType, message: "created \(type)/\(id)")
        case .existing(let row):
            guard let existing = ResourceRendering.resource(type, row: row, tenant: tenant), let existingID = existing["id"]?.stringValue else {
                throw FHIRError.serviceUnavailable
            }
            subjects.note(existing)
            let (existingVersion, updated) = ResourceRendering.version(type, row: row)
            var headers = headers(type: type, id: existingID, versionID: Int(existingVersion) ?? 1, lastUpdated: updated)
            headers[0] = ("Content-Location", headers[0].1)
            return respond(existing, status: .ok, headers: headers, prefer: prefer, contentType: contentType,
                           message: "If-None-Exist matched \(type)/\(existingID); nothing was created")
        case .ambiguous(let count):
            throw FHIRError(status: 412, code: .duplicate, "If-None-Exist matched \(count) resources; refine the criteria")
        }
    }

    /// `$validate`: the outcome a create would give, without storing anything. The body is the
    /// resource, or a Parameters resource with a `resource` parameter.
    func validateOnly(type: String, request: Request, contentType: String) async throws -> Response {
        var (resource, _) = try await ResourceBody.read(request)
        if resource["resourceType"]?.stringValue == "Parameters" {
            guard let inner = (resource["parameter"]?.arrayValue ?? []).first(where: { $0["name"]?.stringValue == "resource" })?["resource"] else {
                throw FHIRError.badRequest("the Parameters resource has no 'resource' parameter", code: .required, expression: ["Parameters.parameter"])
            }
            resource = inner
        }
        let issues = try await validate(resource, type: type, id: nil)
        if !issues.isEmpty { throw FHIRError(status: 422, issues: issues) }
        return FHIRResponse.json(OperationOutcome.resource([OutcomeIssue(severity: .information, code: .informational,
                                                                          diagnostics: "the \(type) is valid for this tenant; nothing was stored")]),
                                 contentType: contentType)
    }

    func update(type: String, id: String, request: Request, contentType: String) async throws -> Response {
        let (resource, _) = try await ResourceBody.read(request)
        guard let bodyID = resource["id"]?.stringValue else {
            throw FHIRError.badRequest("the resource must carry the id of the URL", code: .required, expression: ["\(type).id"])
        }
        guard bodyID == id else { throw FHIRError.badRequest("the resource id does not match the URL", code: .invalid, expression: ["\(type).id"]) }
        var expected: Int?
        if let match = request.headers[.ifMatch] {
            let digits = match.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "W/", with: "").replacingOccurrences(of: "\"", with: "")
            guard let number = Int(digits) else { throw FHIRError.badRequest("If-Match must be an ETag such as W/\"3\"", code: .value, expression: ["If-Match"]) }
            expected = number
        }
        guard let current = try await services.repository.read(type, id: id, scope: scope) else {
            throw FHIRError.notFound("resource not found; updates cannot create resources (POST to create)")
        }
        let currentVersion = Int(current.integer("version_id") ?? 1)
        if let expected, expected != currentVersion {
            throw FHIRError(status: 412, code: .conflict, "If-Match names version \(expected) but the current version is \(currentVersion)")
        }
        let issues = try await validate(resource, type: type, id: id)
        if !issues.isEmpty { throw FHIRError(status: 422, issues: issues) }
        let now = max(Int64(Date().timeIntervalSince1970), current.integer("last_updated") ?? 0)
        let next = currentVersion + 1
        let stored = Self.stamped(resource, id: id, versionID: next, lastUpdated: now)
        let version = HMSRepository.StoredVersion(resourceType: type, id: id, versionID: next, lastUpdated: now,
                                                  body: stored.serializedString, index: SearchIndex.extract(from: stored))
        switch try await services.repository.update(version, ifMatch: expected ?? currentVersion, scope: scope) {
        case .updated:
            subjects.note(stored)
            var responseHeaders = headers(type: type, id: id, versionID: next, lastUpdated: now)
            responseHeaders[0] = ("Content-Location", responseHeaders[0].1)
            return respond(stored, status: .ok, headers: responseHeaders, prefer: Self.preferredReturn(request), contentType: contentType,
                           message: "updated \(type)/\(id) to version \(next)")
        case .notFound:
            throw ReadController.notFound
        case .versionConflict(let latest):
            if expected != nil { throw FHIRError(status: 412, code: .conflict, "the resource changed: the current version is \(latest)") }
            throw FHIRError(status: 409, code: .conflict, "the resource was updated concurrently; retry with If-Match")
        }
    }

    func history(type: String, id: String, contentType: String) async throws -> (Response, Int) {
        let rows = try await services.repository.history(type, id: id, scope: scope)
        guard !rows.isEmpty else { throw ReadController.notFound }
        var entries: [JSON] = []
        for row in rows {
            guard let resource = ResourceRendering.resource(type, row: row, tenant: tenant) else { continue }
            subjects.note(resource)
            let (versionID, updated) = ResourceRendering.version(type, row: row)
            var entry = JSONObject()
            entry.append("fullUrl", "\(tenant.baseURL)/\(type)/\(id)")
            entry.append("resource", resource)
            entry.append("request", .object(["method": .string(versionID == "1" ? "POST" : "PUT"),
                                             "url": .string(versionID == "1" ? type : "\(type)/\(id)")]))
            entry.append("response", .object(["status": .string(versionID == "1" ? "201 Created" : "200 OK"),
                                              "etag": .string("W/\"\(versionID)\""),
                                              "lastModified": .string(CivilTime.isoInstant(epochSeconds: updated))]))
            entries.append(.object(entry))
        }
        var bundle = JSONObject()
        bundle.append("resourceType", "Bundle")
        bundle.append("id", UUID().uuidString.lowercased())
        bundle.append("type", "history")
        bundle.append("total", .int(entries.count))
        bundle.append("link", .array([.object(["relation": .string("self"), "url": .string("\(tenant.baseURL)/\(type)/\(id)/_history")])]))
        bundle.append("entry", .array(entries))
        return (FHIRResponse.json(.object(bundle), contentType: contentType), entries.count)
    }
}

extension HTTPField.Name {
    static let ifNoneExist = HTTPField.Name("If-None-Exist")!
}
