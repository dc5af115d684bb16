import FHIRModels
import FHIRSearch
import Foundation
import GatewayAuth
import GatewayConfig
import GatewayStore
import HMSMapping
import Hummingbird

/// `POST /<tenant>/r4` with a `transaction` (all or nothing) or `batch` (each entry on its own) Bundle
/// of lab creates and updates.
struct BundleController {
    let services: GatewayServices
    let tenant: ResolvedTenant
    let scope: TenantScope
    let policy: ScopePolicy
    var subjects = AuditSubjects()

    /// Most entries accepted in one Bundle.
    static let maximumEntries = 500

    /// One entry, checked and ready to write.
    struct Planned: Sendable {
        var index: Int
        var method: String
        var type: String
        var id: String
        var fullUrl: String?
        var resource: JSON
        var ifNoneExist: SearchRequest?
        var ifMatch: Int?
    }

    struct EntryFailure: Error {
        let index: Int
        let error: FHIRError
    }


    func handle(request: Request, contentType: String) async throws -> (Response, Int) {
        let (bundle, _) = try await ResourceBody.read(request)
        guard bundle["resourceType"]?.stringValue == "Bundle" else {
            throw FHIRError.badRequest("POST to the base takes a transaction or batch Bundle", code: .structure, expression: ["resourceType"])
        }
        let envelope = ResourceValidation.structuralIssues(bundle, type: "Bundle")
        if !envelope.isEmpty { throw FHIRError(status: 400, issues: envelope) }
        let kind = bundle["type"]?.stringValue
        guard kind == "transaction" || kind == "batch" else {
            throw FHIRError.badRequest("Bundle.type must be transaction or batch", code: .value, expression: ["Bundle.type"])
        }
        let entries = bundle["entry"]?.arrayValue ?? []
        guard entries.count <= Self.maximumEntries else {
            throw FHIRError(status: 413, code: .tooCostly, "a Bundle may hold at most \(Self.maximumEntries) entries")
        }
        if kind == "batch" { return try await batch(entries, contentType: contentType) }
        return try await transaction(entries, contentType: contentType)
    }

    /// Reads an entry's request: POST Type (create, optional ifNoneExist) or PUT Type/id (update, optional ifMatch).
    func plan(_ entry: JSON, index: Int) throws(FHIRError) -> Planned {
        let at = "Bundle.entry[\(index)]"
        guard let resource = entry["resource"], let request = entry["request"], let method = request["method"]?.stringValue,
              let url = request["url"]?.stringValue else {
            throw .badRequest("\(at) needs resource and request.method/url", code: .required, expression: [at])
        }
        let parts = url.split(separator: "?").first.map { $0.split(separator: "/").map(String.init) } ?? []
        guard let type = parts.first, TenantConfiguration.writableResourceTypes.contains(type), tenant.configuration.resourceTypes.contains(type) else {
            throw FHIRError(status: 422, code: .notSupported, "\(at): only Observation and DiagnosticReport can be written", expression: ["\(at).request.url"])
        }
        guard resource["resourceType"]?.stringValue == type else {
            throw .badRequest("\(at): the resource type does not match request.url", code: .invalid, expression: ["\(at).resource.resourceType"])
        }
        switch (method, parts.count) {
        case ("POST", 1):
            try require(.create, type, at)
            var condition: SearchRequest?
            if let header = request["ifNoneExist"]?.stringValue {
                let parser = SearchParser(defaultCount: 2, maximumCount: 2, strict: true, baseURL: tenant.baseURL)
                do {
                    condition = try parser.parse(resourceType: type, parameters: try QueryString.parse(header))
                } catch {
                    throw .badRequest("\(at).request.ifNoneExist is not a valid search", code: .invalid, expression: ["\(at).request.ifNoneExist"])
                }
            }
            return Planned(index: index, method: method, type: type, id: UUID().uuidString.lowercased(), fullUrl: entry["fullUrl"]?.stringValue,
                           resource: resource, ifNoneExist: condition, ifMatch: nil)
        case ("PUT", 2):
            try require(.update, type, at)
            guard resource["id"]?.stringValue == parts[1] else {
                throw .badRequest("\(at): the resource id does not match request.url", code: .invalid, expression: ["\(at).resource.id"])
            }
            let ifMatch = request["ifMatch"]?.stringValue.flatMap { Int($0.replacingOccurrences(of: "W/", with: "").replacingOccurrences(of: "\"", with: "")) }
            return Planned(index: index, method: method, type: type, id: parts[1], fullUrl: entry["fullUrl"]?.stringValue, resource: resource,
                           ifNoneExist: nil, ifMatch: ifMatch)
        default:
            throw FHIRError(status: 422, code: .notSupported, "\(at): only POST Type and PUT Type/id entries are supported", expression: ["\(at).request"])
        }
    }

    private func require(_ access: ScopePolicy.Access, _ type: String, _ at: String) throws(FHIRError) {
        if case .denied(let reason) = policy.decide(access, resourceType: type, patient: scope.patient) {
            throw FHIRError(status: 403, code: .forbidden, "\(at): \(reason)")
        }
    }

    /// The writer for an entry, confined like a single create or update of that type would be.
    func writer(for item: Planned) throws(FHIRError) -> WriteController {
        let access: ScopePolicy.Access = item.method == "PUT" ? .update : .create
        return WriteController(services: services, tenant: tenant,
                               scope: try ScopeAuthorization.scope(scope, policy: policy, access: access, type: item.type, baseURL: tenant.baseURL),
                               subjects: subjects)
    }

    /// Replaces `reference` values that name a Bundle entry's fullUrl with that entry's new `Type/id`.
    static func rewrite(_ value: JSON, _ map: [String: String]) -> JSON {
        switch value {
        case .object(let object):
            var output = JSONObject()
            for member in object.members {
                if member.key == "reference", case .string(let text) = member.value, let target = map[text] {
                    output.append("reference", target)
                } else {
                    output.append(member.key, rewrite(member.value, map))
                }
            }
            return .object(output)
        case .array(let items): return .array(items.map { rewrite($0, map) })
        default: return value
        }
    }

    private func transaction(_ entries: [JSON], contentType: String) async throws -> (Response, Int) {
        var planned: [Planned] = []
        for (index, entry) in entries.enumerated() {
            do { planned.append(try plan(entry, index: index)) } catch { throw Self.named(error, index: index) }
        }
        var seen = Set<String>()
        for item in planned where item.method == "PUT" && !seen.insert("\(item.type)/\(item.id)").inserted {
            throw Self.named(FHIRError.badRequest("the same resource is updated twice in one transaction", code: .duplicate), index: item.index)
        }
        var map: [String: String] = [:]
        for item in planned where item.method == "POST" { if let fullUrl = item.fullUrl { map[fullUrl] = "\(item.type)/\(item.id)" } }
        let created = Set(planned.filter { $0.method == "POST" }.map { "\($0.type)/\($0.id)" })
        for index in planned.indices {
            do {
                let rewritten = Self.rewrite(planned[index].resource, map)
                let issues = try await writer(for: planned[index]).validate(rewritten, type: planned[index].type, id: nil, extraIDs: created)
                if !issues.isEmpty { throw FHIRError(status: 422, issues: issues) }
            } catch let error as FHIRError {
                throw Self.named(error, index: index)
            }
        }
        let now = Int64(Date().timeIntervalSince1970)
        let locks = planned.compactMap { $0.ifNoneExist.map { HMSRepository.conditionalLockKey($0, scope: scope) } }
            + planned.filter { $0.method == "PUT" }.map { "\(scope.tenantID)|\($0.type)/\($0.id)" }
        let plan = planned
        let tenant = self.tenant
        // Every entry was authorised above; the transaction runs confined like its first entry
        // (a patient-context token writes only inside its compartment).
        let confined = try planned.first.map { try writer(for: $0).scope } ?? scope
        let provisional = map
        let results = try await services.repository.withStoredTransaction(scope: confined, lockKeys: locks) { transaction -> [JSON] in
            // Conditional creates that match an existing resource point their fullUrl at it instead.
            var map = provisional
            var existing: [Int: HMSRow] = [:]
            for item in plan {
                guard let condition = item.ifNoneExist else { continue }
                let matches = try await transaction.matches(condition)
                if matches.count > 1 { throw Self.named(FHIRError(status: 412, code: .duplicate, "ifNoneExist matched several resources"), index: item.index) }
                if let match = matches.first, let id = match.string("id") {
                    existing[item.index] = match
                    if let fullUrl = item.fullUrl { map[fullUrl] = "\(item.type)/\(id)" }
                }
            }
            var responses: [JSON] = []
            for item in plan {
                if let match = existing[item.index] {
                    let (versionID, updated) = ResourceRendering.version(item.type, row: match)
                    responses.append(Self.entryResponse(status: "200 OK", location: "\(tenant.baseURL)/\(item.type)/\(match.string("id") ?? "")/_history/\(versionID)",
                                                        versionID: versionID, lastUpdated: updated))
                    continue
                }
                var versionID = 1
                if item.method == "PUT" {
                    guard let current = try await transaction.currentVersion(item.type, id: item.id) else {
                        throw Self.named(FHIRError.notFound("resource not found; updates cannot create resources"), index: item.index)
                    }
                    versionID = current + 1
                }
                let resource = WriteController.stamped(Self.rewrite(item.resource, map), id: item.id, versionID: versionID, lastUpdated: now)
                subjects.note(resource)
                let version = HMSRepository.StoredVersion(resourceType: item.type, id: item.id, versionID: versionID, lastUpdated: now,
                                                          body: resource.serializedString, index: SearchIndex.extract(from: resource))
                if item.method == "PUT" {
                    if case .versionConflict(let current) = try await transaction.update(version, ifMatch: item.ifMatch) {
                        throw Self.named(FHIRError(status: 412, code: .conflict, "ifMatch does not name the current version \(current)"), index: item.index)
                    }
                } else {
                    try await transaction.insert(version)
                }
                responses.append(Self.entryResponse(status: item.method == "PUT" ? "200 OK" : "201 Created",
                                                    location: "\(tenant.baseURL)/\(item.type)/\(item.id)/_history/\(versionID)",
                                                    versionID: String(versionID), lastUpdated: now))
            }
            return responses
        }
        for (item, result) in zip(plan, results) {
            let status = Int((result["response"]?["status"]?.stringValue ?? "200").prefix(3)) ?? 200
            let location = result["response"]?["location"]?.stringValue ?? ""
            let id = location.components(separatedBy: "/\(item.type)/").last?.components(separatedBy: "/").first ?? item.id
            let noted = JSON.object(["resourceType": .string(item.type), "id": .string(id), "subject": item.resource["subject"] ?? .null])
            subjects.noteEntry(.init(interaction: item.method == "PUT" ? "update" : "create", status: status, resource: noted))
        }
        return (FHIRResponse.json(Self.responseBundle("transaction-response", results), contentType: contentType), results.count)
    }

    private func batch(_ entries: [JSON], contentType: String) async throws -> (Response, Int) {
        var responses: [JSON] = []
        for (index, entry) in entries.enumerated() {
            do {
                let item = try plan(entry, index: index)
                let issues = try await writer(for: item).validate(item.resource, type: item.type, id: nil)
                if !issues.isEmpty { throw FHIRError(status: 422, issues: issues) }
                let now = Int64(Date().timeIntervalSince1970)
                if item.method == "POST" {
                    let resource = WriteController.stamped(item.resource, id: item.id, versionID: 1, lastUpdated: now)
                    subjects.note(resource)
                    let version = HMSRepository.StoredVersion(resourceType: item.type, id: item.id, versionID: 1, lastUpdated: now,
                                                              body: resource.serializedString, index: SearchIndex.extract(from: resource))
                    let confined = try writer(for: item).scope
                    switch try await services.repository.create(version, ifNoneExist: item.ifNoneExist, scope: confined) {
                    case .created:
                        responses.append(Self.entryResponse(status: "201 Created", location: "\(tenant.baseURL)/\(item.type)/\(item.id)/_history/1",
                                                            versionID: "1", lastUpdated: now))
                        subjects.noteEntry(.init(interaction: "create", status: 201, resource: resource))
                    case .existing(let row):
                        subjects.noteEntry(.init(interaction: "create", status: 200, resource: ResourceRendering.resource(item.type, row: row, tenant: tenant)))
                        let (versionID, updated) = ResourceRendering.version(item.type, row: row)
                        responses.append(Self.entryResponse(status: "200 OK", location: "\(tenant.baseURL)/\(item.type)/\(row.string("id") ?? "")/_history/\(versionID)",
                                                            versionID: versionID, lastUpdated: updated))
                    case .ambiguous:
                        throw FHIRError(status: 412, code: .duplicate, "ifNoneExist matched several resources")
                    }
                } else {
                    let confined = try writer(for: item).scope
                    guard let current = try await services.repository.read(item.type, id: item.id, scope: confined),
                          let currentVersion = current.integer("version_id").map(Int.init) else { throw ReadController.notFound }
                    let resource = WriteController.stamped(item.resource, id: item.id, versionID: currentVersion + 1, lastUpdated: now)
                    let version = HMSRepository.StoredVersion(resourceType: item.type, id: item.id, versionID: currentVersion + 1, lastUpdated: now,
                                                              body: resource.serializedString, index: SearchIndex.extract(from: resource))
                    switch try await services.repository.update(version, ifMatch: item.ifMatch, scope: confined) {
                    case .updated:
                        subjects.noteEntry(.init(interaction: "update", status: 200, resource: resource))
                        responses.append(Self.entryResponse(status: "200 OK", location: "\(tenant.baseURL)/\(item.type)/\(item.id)/_history/\(currentVersion + 1)",
                                                            versionID: String(currentVersion + 1), lastUpdated: now))
                    case .notFound: throw ReadController.notFound
                    case .versionConflict: throw FHIRError(status: 412, code: .conflict, "ifMatch does not name the current version")
                    }
                }
            } catch let error as FHIRError {
                let method = entry["request"]?["method"]?.stringValue
                subjects.noteEntry(.init(interaction: method == "PUT" ? "update" : "create", status: error.status, resource: nil))
                var response = JSONObject()
                response.append("status", "\(error.status)")
                response.append("outcome", error.outcome)
                responses.append(.object(["response": .object(response)]))
            }
        }
        return (FHIRResponse.json(Self.responseBundle("batch-response", responses), contentType: contentType), responses.count)
    }

    static func entryResponse(status: String, location: String, versionID: String, lastUpdated: Int64) -> JSON {
        var response = JSONObject()
        response.append("status", status)
        response.append("location", location)
        response.append("etag", "W/\"\(versionID)\"")
        response.append("lastModified", CivilTime.isoInstant(epochSeconds: lastUpdated))
        return .object(["response": .object(response)])
    }

    static func responseBundle(_ type: String, _ entries: [JSON]) -> JSON {
        var bundle = JSONObject()
        bundle.append("resourceType", "Bundle")
        bundle.append("id", UUID().uuidString.lowercased())
        bundle.append("type", type)
        bundle.append("entry", .array(entries))
        return .object(bundle)
    }

    /// Prefixes an entry's errors so the client knows which entry failed.
    static func named(_ error: Error, index: Int) -> FHIRError {
        guard var fhirError = error as? FHIRError else { return FHIRError(status: 400, code: .invalid, "Bundle.entry[\(index)] failed") }
        let prefix = "Bundle.entry[\(index)]"
        fhirError.issues = fhirError.issues.map { issue in
            var issue = issue
            if !issue.diagnostics.hasPrefix(prefix) { issue.diagnostics = "\(prefix): " + issue.diagnostics }
            issue.expression = issue.expression.isEmpty ? [prefix] : issue.expression.map { $0.hasPrefix("Bundle.") ? $0 : "\(prefix).resource.\($0)" }
            return issue
        }
        return fhirError
    }
}
