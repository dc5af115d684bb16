import FHIRModels
import FHIRSearch
import Foundation
import GatewayAuth
import GatewayConfig
import GatewayStore
import HMSMapping

/// The one way a resource is written, whichever door it came through (a single `POST`/`PUT`, a
/// transaction entry, a batch entry): preconditions are parsed, the entry's own grant is checked,
/// the resource is validated and its references resolved inside the tenant, then it is stored and
/// indexed, and what was stored must still be inside the grant that wrote it.
struct WritePipeline {
    let services: GatewayServices
    let tenant: ResolvedTenant
    /// The request's scope, before any grant narrowed it.
    let scope: TenantScope
    let policy: ScopePolicy
    /// Records each write in its own transaction; nil only where nothing is written ($validate).
    let auditor: WriteAuditor?

    init(services: GatewayServices, tenant: ResolvedTenant, scope: TenantScope, auditor: WriteAuditor? = nil) {
        self.services = services
        self.tenant = tenant
        self.scope = scope
        self.policy = ScopePolicy(scope: scope.scope)
        self.auditor = auditor
    }

    /// What one door asks for, before any check.
    struct Intent: Sendable {
        enum Action: Sendable, Equatable { case create, update(id: String) }
        var type: String
        var action: Action
        var resource: JSON
        /// `If-None-Exist` or `request.ifNoneExist`, as sent.
        var ifNoneExist: String?
        /// `If-Match` or `request.ifMatch`, as sent.
        var ifMatch: String?
        var fullUrl: String?
        /// Where the request's parts are named in errors: `If-Match` for a single request, `Bundle.entry[2].request.ifMatch` in a Bundle.
        var ifNoneExistLabel = "If-None-Exist"
        var ifMatchLabel = "If-Match"
    }

    /// An intent that passed its preconditions and grant check.
    struct Prepared: Sendable {
        var type: String
        var id: String
        var isUpdate: Bool
        var resource: JSON
        var fullUrl: String?
        var condition: SearchRequest?
        var expectedVersion: Int?
        /// Confined by the grant that allows this create or update.
        var writeScope: TenantScope
        /// For a conditional create, also confined by the search grant the match needs.
        var matchScope: TenantScope

        var lockKeys: [String] {
            if let condition { return [HMSRepository.conditionalLockKey(condition, scope: writeScope)] }
            return isUpdate ? ["\(writeScope.tenantID)|\(type)/\(id)"] : []
        }
    }

    /// What a write did. A write that stored something (not a conditional match) has its audit
    /// record in the same commit.
    struct Outcome: Sendable {
        /// 201 created, 200 updated or matched by a conditional create.
        var status: Int
        var type: String
        var id: String
        var versionID: String
        var lastUpdated: Int64
        /// The resource as stored (or the existing match).
        var resource: JSON
        var matchedExisting: Bool
    }

    // MARK: Preconditions and grant

    func prepare(_ intent: Intent) throws(FHIRError) -> Prepared {
        guard TenantConfiguration.writableResourceTypes.contains(intent.type), tenant.configuration.resourceTypes.contains(intent.type) else {
            throw FHIRError(status: 405, code: .notSupported, "\(intent.type) cannot be written: HMS records are read-only")
        }
        switch intent.action {
        case .create:
            let writeScope = try ScopeAuthorization.scope(scope, policy: policy, access: .create, type: intent.type, baseURL: tenant.baseURL)
            var condition: SearchRequest?
            var matchScope = writeScope
            if let text = intent.ifNoneExist {
                condition = try Self.parseCondition(text, type: intent.type, label: intent.ifNoneExistLabel, baseURL: tenant.baseURL)
                // A conditional create answers with what it matched, so it needs the right to search as well.
                let searchScope: TenantScope
                do {
                    searchScope = try ScopeAuthorization.scope(scope, policy: policy, access: .search, type: intent.type, baseURL: tenant.baseURL)
                } catch {
                    throw FHIRError.forbidden("\(intent.ifNoneExistLabel) needs a grant to search \(intent.type) as well as to create it")
                }
                matchScope = writeScope.narrowed(to: searchScope.restriction)
            }
            return Prepared(type: intent.type, id: UUID().lowercasedString, isUpdate: false, resource: intent.resource,
                            fullUrl: intent.fullUrl, condition: condition, expectedVersion: nil, writeScope: writeScope, matchScope: matchScope)
        case .update(let id):
            let writeScope = try ScopeAuthorization.scope(scope, policy: policy, access: .update, type: intent.type, baseURL: tenant.baseURL)
            var expected: Int?
            if let text = intent.ifMatch {
                switch EntityTag.parse(text) {
                case .version(let version)?: expected = version
                case .any?: expected = nil
                case .other?: expected = -1  // a tag the gateway never issued: never current (412)
                case nil:
                    throw FHIRError.badRequest("\(intent.ifMatchLabel) must be an ETag such as W/\"3\"", code: .value, expression: [intent.ifMatchLabel])
                }
            }
            guard let bodyID = intent.resource["id"]?.stringValue else {
                throw FHIRError.badRequest("the resource must carry the id of the URL", code: .required, expression: ["\(intent.type).id"])
            }
            guard bodyID == id else { throw FHIRError.badRequest("the resource id does not match the URL", code: .invalid, expression: ["\(intent.type).id"]) }
            // Ids are case-sensitive and the gateway's are lower-case UUIDs: any other spelling names nothing.
            guard HMSIdentifier.normalizedUUID(id) == id else { throw ReadController.notFound }
            return Prepared(type: intent.type, id: id, isUpdate: true, resource: intent.resource, fullUrl: intent.fullUrl, condition: nil,
                            expectedVersion: expected, writeScope: writeScope, matchScope: writeScope)
        }
    }

    static func parseCondition(_ text: String, type: String, label: String, baseURL: String) throws(FHIRError) -> SearchRequest {
        let parser = SearchParser(defaultCount: 2, maximumCount: 2, strict: true, baseURL: baseURL)
        do {
            let request = try parser.parse(resourceType: type, parameters: try QueryString.parse(text))
            guard !request.clauses.isEmpty else { throw FHIRError.badRequest("\(label) has no search criteria", code: .invalid) }
            return request
        } catch {
            var error = error as? FHIRError ?? FHIRError.badRequest("\(label) is not a valid search")
            error.issues = error.issues.map { issue in
                var issue = issue
                if !issue.diagnostics.hasPrefix(label) { issue.diagnostics = "\(label): " + issue.diagnostics }
                issue.expression = [label]
                return issue
            }
            throw error
        }
    }

    // MARK: Validation

    /// Structure (400), then the tenant's profile and references (422). `extraIDs` are resources
    /// created earlier in the same transaction.
    func validate(_ resource: JSON, type: String, scope: TenantScope, extraIDs: Set<String> = []) async throws {
        guard resource["resourceType"]?.stringValue == type else {
            throw FHIRError.badRequest("resourceType must be \(type)", code: .structure, expression: ["resourceType"])
        }
        let structural = ResourceValidation.structuralIssues(resource, type: type) + ReferenceRules.issues(in: resource, type: type, baseURL: tenant.baseURL)
        if !structural.isEmpty { throw FHIRError(status: 400, issues: structural) }
        var issues = ResourceValidation.profileIssues(resource, type: type, profileSet: tenant.configuration.profileSet)
        issues += try await ReferenceChecker(repository: tenant.repository, tenant: tenant, scope: scope)
            .problems(in: resource, type: type, extraIDs: extraIDs)
        if !issues.isEmpty { throw FHIRError(status: 422, issues: issues) }
    }

    // MARK: Store

    /// Runs a prepared write inside `transaction`: the conditional match, the version check, the
    /// write and its index, then the check that the stored resource is inside the writing grant.
    /// `recordsAudit` false: the caller chains the records itself, once, at the end of a longer
    /// transaction (the tenant's chain lock is then held only for that last step).
    func apply(_ item: Prepared, resource: JSON, in transaction: HMSRepository.StoredTransaction, now: Int64,
               recordsAudit: Bool = true) async throws -> Outcome {
        if let condition = item.condition {
            let matches = try await transaction.confined(to: item.matchScope).matches(condition)
            if matches.count > 1 { throw FHIRError(status: 412, code: .duplicate, "the condition matched several resources; refine the criteria") }
            if let match = matches.first, let existing = ResourceRendering.resource(item.type, row: match, tenant: tenant),
               let existingID = existing["id"]?.stringValue {
                let (versionID, updated) = ResourceRendering.version(item.type, row: match)
                return Outcome(status: 200, type: item.type, id: existingID, versionID: versionID, lastUpdated: updated,
                               resource: existing, matchedExisting: true)
            } else if !matches.isEmpty {
                throw StoredDataError.unreadable
            }
        }
        let writer = try transaction.confined(to: item.writeScope)
        var versionID = 1
        var lastUpdated = now
        if item.isUpdate {
            guard let current = try await writer.current(item.type, id: item.id),
                  let currentVersion = HMSResourceMapper.storedVersion(current) else {
                throw FHIRError.notFound("resource not found; updates cannot create resources (POST to create)")
            }
            if let expected = item.expectedVersion, expected != currentVersion {
                throw FHIRError(status: 412, code: .conflict, expected < 0 ? "If-Match names no version of this resource; the current version is \(currentVersion)"
                                    : "If-Match names version \(expected) but the current version is \(currentVersion)")
            }
            versionID = currentVersion + 1
            lastUpdated = max(now, HMSResourceMapper.version(item.type, row: current).lastUpdated)
        }
        let stored = Self.stamped(resource, id: item.id, versionID: versionID, lastUpdated: lastUpdated)
        let version = HMSRepository.StoredVersion(resourceType: item.type, id: item.id, versionID: versionID, lastUpdated: lastUpdated,
                                                  body: stored.serializedString, index: SearchIndex.extract(from: stored, baseURL: tenant.baseURL))
        if item.isUpdate {
            // The row is locked for this transaction, so the version read above is still current.
            guard case .updated = try await writer.update(version, ifMatch: versionID - 1) else {
                throw FHIRError(status: 409, code: .conflict, "the resource was updated concurrently; retry with If-Match")
            }
        } else {
            try await writer.insert(version)
        }
        // A granular filter or patient compartment must hold for what was written, not only for what
        // was there. Without either, the tenant predicate is all there is, and the write is inside it.
        let visible = item.writeScope.restriction.isNone(for: item.type) ? true : try await writer.current(item.type, id: item.id) != nil
        guard visible else {
            throw FHIRError.forbidden("the token's grant does not cover the resource as written (patient compartment or scope filter)")
        }
        let status = item.isUpdate ? 200 : 201
        if recordsAudit, let auditor {
            try await transaction.appendAudit([auditor.record(interaction: item.isUpdate ? "update" : "create", status: status, resources: [stored])])
        }
        return Outcome(status: status, type: item.type, id: item.id, versionID: String(versionID), lastUpdated: lastUpdated,
                       resource: stored, matchedExisting: false)
    }

    /// Prepares, validates and stores one resource in a transaction of its own (single requests and batch entries).
    func write(_ intent: Intent) async throws -> Outcome {
        let item = try prepare(intent)
        try await validate(item.resource, type: item.type, scope: item.writeScope)
        if !item.isUpdate { try await services.quota.admit(tenant, tenantID: scope.tenantID, creating: 1) }
        let now = Int64(Date().timeIntervalSince1970)
        return try await tenant.repository.withStoredTransaction(scope: scope, lockKeys: item.lockKeys) { transaction in
            try await apply(item, resource: item.resource, in: transaction, now: now)
        }
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
}

/// A stored body that no longer parses: the server's fault, never the client's (500, not 404).
enum StoredDataError: Error { case unreadable }
