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
    /// Commits each write's audit record with the write (and a transaction's own record with it).
    var auditor: WriteAuditor?

    /// Most entries accepted in one Bundle.
    static let maximumEntries = 500

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
        // bdl-7: a fullUrl names one entry; references could otherwise bind to either.
        var firstWithURL: [String: Int] = [:]
        for (index, entry) in entries.enumerated() {
            guard let fullUrl = entry["fullUrl"]?.stringValue else { continue }
            if let first = firstWithURL[fullUrl] {
                throw FHIRError.badRequest("bdl-7: Bundle.entry[\(first)] and Bundle.entry[\(index)] share the fullUrl '\(fullUrl)'",
                                           code: .invariant, expression: ["Bundle.entry[\(first)].fullUrl", "Bundle.entry[\(index)].fullUrl"])
            }
            firstWithURL[fullUrl] = index
        }
        if kind == "batch" { return try await batch(entries, contentType: contentType) }
        return try await transaction(entries, contentType: contentType)
    }

    /// Reads an entry's request: POST Type (create, optional ifNoneExist) or PUT Type/id (update, optional ifMatch).
    func intent(_ entry: JSON, index: Int) throws(FHIRError) -> WritePipeline.Intent {
        let at = "Bundle.entry[\(index)]"
        guard let resource = entry["resource"], let request = entry["request"], let method = request["method"]?.stringValue,
              let url = request["url"]?.stringValue else {
            throw .badRequest("\(at) needs resource and request.method/url", code: .required, expression: [at])
        }
        let parts = url.split(separator: "?", omittingEmptySubsequences: false).first.map { $0.split(separator: "/").map(String.init) } ?? []
        guard let type = parts.first, TenantConfiguration.writableResourceTypes.contains(type), tenant.configuration.resourceTypes.contains(type) else {
            throw FHIRError(status: 422, code: .notSupported, "\(at): only Observation and DiagnosticReport can be written", expression: ["\(at).request.url"])
        }
        guard resource["resourceType"]?.stringValue == type else {
            throw .badRequest("\(at): the resource type does not match request.url", code: .invalid, expression: ["\(at).resource.resourceType"])
        }
        var intent: WritePipeline.Intent
        switch (method, parts.count) {
        case ("POST", 1):
            intent = WritePipeline.Intent(type: type, action: .create, resource: resource)
            if let condition = request["ifNoneExist"] {
                guard let text = condition.stringValue, !text.trimmingCharacters(in: .whitespaces).isEmpty else {
                    throw .badRequest("\(at).request.ifNoneExist must be a non-empty search", code: .required, expression: ["\(at).request.ifNoneExist"])
                }
                intent.ifNoneExist = text
            }
        case ("PUT", 2):
            intent = WritePipeline.Intent(type: type, action: .update(id: parts[1]), resource: resource)
            if let ifMatch = request["ifMatch"] {
                guard let text = ifMatch.stringValue else {
                    throw .badRequest("\(at).request.ifMatch must be an ETag such as W/\"3\"", code: .value, expression: ["\(at).request.ifMatch"])
                }
                intent.ifMatch = text
            }
        default:
            throw FHIRError(status: 422, code: .notSupported, "\(at): only POST Type and PUT Type/id entries are supported", expression: ["\(at).request"])
        }
        intent.fullUrl = entry["fullUrl"]?.stringValue
        intent.ifNoneExistLabel = "\(at).request.ifNoneExist"
        intent.ifMatchLabel = "\(at).request.ifMatch"
        return intent
    }

    var pipeline: WritePipeline { WritePipeline(services: services, tenant: tenant, scope: scope, auditor: auditor) }

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
        let pipeline = self.pipeline
        var planned: [WritePipeline.Prepared] = []
        for (index, entry) in entries.enumerated() {
            do { planned.append(try pipeline.prepare(try intent(entry, index: index))) } catch { throw Self.named(error, index: index) }
        }
        var seen = Set<String>()
        for (index, item) in planned.enumerated() where item.isUpdate && !seen.insert("\(item.type)/\(item.id)").inserted {
            throw Self.named(FHIRError.badRequest("the same resource is updated twice in one transaction", code: .duplicate), index: index)
        }
        var provisional: [String: String] = [:]
        for item in planned where !item.isUpdate { if let fullUrl = item.fullUrl { provisional[fullUrl] = "\(item.type)/\(item.id)" } }
        let created = Set(planned.filter { !$0.isUpdate }.map { "\($0.type)/\($0.id)" })
        for (index, item) in planned.enumerated() {
            do {
                try await pipeline.validate(Self.rewrite(item.resource, provisional), type: item.type, scope: item.writeScope, extraIDs: created)
            } catch {
                throw Self.named(error, index: index)
            }
        }
        let now = Int64(Date().timeIntervalSince1970)
        let plan = planned
        let placeholders = provisional
        // Every entry runs under its own grant; the transaction only shares the tenant and the commit.
        try await services.quota.admit(tenant, tenantID: scope.tenantID, creating: planned.filter { !$0.isUpdate }.count)
        let outcomes = try await tenant.repository.withStoredTransaction(scope: scope, lockKeys: planned.flatMap(\.lockKeys)) { transaction in
            var map = placeholders
            var outcomes: [Int: WritePipeline.Outcome] = [:]
            // Conditional creates first: one that matches points its fullUrl at the existing resource.
            for (index, item) in plan.enumerated() where item.condition != nil {
                do {
                    let outcome = try await pipeline.apply(item, resource: Self.rewrite(item.resource, map), in: transaction, now: now,
                                                           recordsAudit: false)
                    if outcome.matchedExisting, let fullUrl = item.fullUrl { map[fullUrl] = "\(outcome.type)/\(outcome.id)" }
                    outcomes[index] = outcome
                } catch { throw Self.named(error, index: index) }
            }
            for (index, item) in plan.enumerated() where item.condition == nil {
                do {
                    outcomes[index] = try await pipeline.apply(item, resource: Self.rewrite(item.resource, map), in: transaction, now: now,
                                                               recordsAudit: false)
                } catch { throw Self.named(error, index: index) }
            }
            let ordered = plan.indices.compactMap { outcomes[$0] }
            // The entries' records and the transaction's own commit with the writes, chained in one
            // step at the end so the tenant's chain lock is held only for it.
            if let auditor = pipeline.auditor {
                let written = zip(plan, ordered).filter { !$0.1.matchedExisting }
                let records = written.map { item, outcome in
                    auditor.record(interaction: item.isUpdate ? "update" : "create", status: outcome.status, resources: [outcome.resource])
                } + [auditor.record(interaction: "transaction", status: 200, resources: written.map(\.1.resource))]
                try await transaction.appendAudit(records)
            }
            return ordered
        }
        if auditor != nil { subjects.markRequestAudited() }
        var responses: [JSON] = []
        for (item, outcome) in zip(plan, outcomes) {
            if !outcome.matchedExisting { subjects.note(outcome.resource) }
            subjects.noteEntry(.init(interaction: item.isUpdate ? "update" : "create", status: outcome.status, resource: outcome.resource,
                                     audited: auditor != nil && !outcome.matchedExisting))
            responses.append(Self.entryResponse(outcome, baseURL: tenant.baseURL))
        }
        return (FHIRResponse.json(Self.responseBundle("transaction-response", responses), contentType: contentType), responses.count)
    }

    /// Each entry on its own: its own grant, its own transaction, its own status; every entry is audited.
    private func batch(_ entries: [JSON], contentType: String) async throws -> (Response, Int) {
        let pipeline = self.pipeline
        var responses: [JSON] = []
        for (index, entry) in entries.enumerated() {
            let interaction = entry["request"]?["method"]?.stringValue == "PUT" ? "update" : "create"
            do {
                let outcome = try await pipeline.write(try intent(entry, index: index))
                if !outcome.matchedExisting { subjects.note(outcome.resource) }
                subjects.noteEntry(.init(interaction: interaction, status: outcome.status, resource: outcome.resource,
                                         audited: auditor != nil && !outcome.matchedExisting))
                responses.append(Self.entryResponse(outcome, baseURL: tenant.baseURL))
            } catch {
                let failure = FHIRError.classify(error, logger: services.logger)
                subjects.noteEntry(.init(interaction: interaction, status: failure.status, resource: nil))
                var response = JSONObject()
                response.append("status", "\(failure.status)")
                response.append("outcome", Self.named(failure, index: index).outcome)
                responses.append(.object(["response": .object(response)]))
            }
        }
        return (FHIRResponse.json(Self.responseBundle("batch-response", responses), contentType: contentType), responses.count)
    }

    static func entryResponse(_ outcome: WritePipeline.Outcome, baseURL: String) -> JSON {
        entryResponse(status: outcome.status == 201 ? "201 Created" : "200 OK",
                      location: "\(baseURL)/\(outcome.type)/\(outcome.id)/_history/\(outcome.versionID)",
                      versionID: outcome.versionID, lastUpdated: outcome.lastUpdated)
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
        bundle.append("id", UUID().lowercasedString)
        bundle.append("type", type)
        bundle.append("entry", .array(entries))
        return .object(bundle)
    }

    /// Prefixes an entry's errors so the client knows which entry failed.
    static func named(_ error: any Error, index: Int) -> any Error {
        guard let fhirError = error as? FHIRError else { return error }
        return named(fhirError, index: index)
    }

    static func named(_ error: FHIRError, index: Int) -> FHIRError {
        var fhirError = error
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
