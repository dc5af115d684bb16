import FHIRModels
import FHIRSearch
import Foundation
import GatewayAuth
import GatewayStore
import HMSMapping
import Hummingbird

/// `search-type`: a `searchset` Bundle with keyset paging, includes and totals.
struct SearchController {
    let services: GatewayServices
    let tenant: ResolvedTenant
    let scope: TenantScope
    /// Includes are authorised per included type, like a read of that type.
    let policy: ScopePolicy
    var subjects = AuditSubjects()

    /// Upper bound of resources one `_revinclude` adds to a page.
    static let revincludeLimit = 500

    /// `posted`: the criteria came in a POST body; they stay out of every link (the next page's
    /// cursor carries them, sealed) and go into the audit record instead.
    func search(type: String, parameters: [(String, String)], strict: Bool, contentType: String, posted: Bool = false) async throws -> (Response, Int) {
        let server = services.configuration.server
        let parser = SearchParser(defaultCount: server.defaultPageSize, maximumCount: server.maximumPageSize, strict: strict, baseURL: tenant.baseURL)
        var parameters = parameters
        var carried = posted
        // A cursor alone continues a search whose criteria it carries.
        if let cursor = parameters.last(where: { $0.0 == "_cursor" })?.1,
           !parameters.contains(where: { $0.0 != "_cursor" && !SearchParser.transportParameters.contains($0.0) }),
           let criteria = services.cursors.carriedParameters(cursor, tenant: tenant.configuration.slug, resourceType: type) {
            parameters = criteria + [("_cursor", cursor)]
            carried = true
        }
        let request = try parser.parse(resourceType: type, parameters: parameters)
        let position = try request.cursor.map {
            try services.cursors.decode($0, tenant: tenant.configuration.slug, resourceType: type, parameters: request.appliedParameters)
        }
        subjects.noteQuery(QueryString.format(parameters.filter { $0.0 != "_cursor" }))
        let selfURL = carried
            ? "\(tenant.baseURL)/\(type)" + (request.cursor.map { "?" + QueryString.format([("_cursor", $0)]) } ?? "/_search")
            : "\(tenant.baseURL)/\(type)?" + QueryString.format(request.appliedParameters + (request.cursor.map { [("_cursor", $0)] } ?? []))

        var bundle = BundleWriter(selfURL: selfURL)
        if request.summaryCount {
            bundle.total = try await tenant.repository.count(request, scope: scope)
            return (FHIRResponse.json(bundle.json(), contentType: contentType), 0)
        }

        let (rows, next) = try await tenant.repository.search(request, after: position, scope: scope)
        let matches = rows.compactMap { ResourceRendering.resource(type, row: $0, tenant: tenant) }
        switch request.total {
        case .accurate?, .estimate?: bundle.total = try await tenant.repository.count(request, scope: scope)
        case .none?: break
        case nil: if position == nil && next == nil { bundle.total = matches.count }
        }
        if let next {
            let cursor = services.cursors.encode(tenant: tenant.configuration.slug, resourceType: type, parameters: request.appliedParameters,
                                                 position: next, carry: carried)
            bundle.nextURL = "\(tenant.baseURL)/\(type)?" + QueryString.format((carried ? [] : request.appliedParameters) + [("_cursor", cursor)])
        }
        for resource in matches {
            subjects.note(resource)
            bundle.add(request.elements.map { Self.subset(resource, elements: $0) } ?? resource, mode: "match", baseURL: tenant.baseURL)
        }
        for resource in try await included(request, rows: rows, matches: matches) {
            subjects.note(resource)
            bundle.add(resource, mode: "include", baseURL: tenant.baseURL)
        }
        if !request.ignoredParameters.isEmpty {
            bundle.outcome = OperationOutcome.resource([OutcomeIssue(
                severity: .warning, code: .notSupported,
                diagnostics: "ignored unsupported parameters: \(request.ignoredParameters.joined(separator: ", "))")])
        }
        return (FHIRResponse.json(bundle.json(), contentType: contentType), matches.count)
    }

    /// `_include` and `_revinclude` targets, fetched through the same tenant scope as the matches.
    private func included(_ request: SearchRequest, rows: [HMSRow], matches: [JSON]) async throws -> [JSON] {
        var seen = Set(matches.compactMap { resource in resource["id"]?.stringValue.map { "\(request.resourceType)/\($0)" } })
        var output: [JSON] = []
        func append(_ type: String, _ found: [HMSRow]) {
            for row in found {
                guard let resource = ResourceRendering.resource(type, row: row, tenant: tenant),
                      let id = resource["id"]?.stringValue, seen.insert("\(type)/\(id)").inserted else { continue }
                output.append(resource)
            }
        }
        for include in request.includes where tenant.configuration.resourceTypes.contains(include.target) {
            guard let included = ScopeAuthorization.includeScope(scope, policy: policy, type: include.target, baseURL: tenant.baseURL) else { continue }
            let ids = Array(Set(zip(rows, matches).flatMap { Self.referencedIDs(include, row: $0.0, resource: $0.1) })).sorted()
            guard !ids.isEmpty else { continue }
            append(include.target, try await tenant.repository.rows(include.target, ids: ids, scope: included))
        }
        for include in request.revincludes where tenant.configuration.resourceTypes.contains(include.source) {
            guard let included = ScopeAuthorization.includeScope(scope, policy: policy, type: include.source, baseURL: tenant.baseURL) else { continue }
            let ids = rows.compactMap { HMSResourceMapper.fhirID(request.resourceType, row: $0) }
            guard !ids.isEmpty else { continue }
            append(include.source, try await tenant.repository.rows(include.source, referencing: include.parameter, ids: ids,
                                                                     limit: Self.revincludeLimit, scope: included))
        }
        return output
    }

    /// FHIR ids a row refers to through an include's parameter.
    static func referencedIDs(_ include: IncludeDefinition, row: HMSRow, resource: JSON) -> [String] {
        if let ids = HMSResourceMapper.includedIDs(source: include.source, parameter: include.parameter, row: row) { return ids }
        let prefix = include.target + "/"
        return ReferenceChecker.references(in: resource[include.parameter] ?? .null, path: "")
            .map(\.reference).filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
    }

    /// `_elements`: the named top-level elements plus the mandatory ones, tagged SUBSETTED.
    static func subset(_ resource: JSON, elements: [String]) -> JSON {
        guard case .object(let object) = resource else { return resource }
        let keep = Set(elements).union(["resourceType", "id", "meta"])
        var subset = JSONObject()
        for member in object.members where keep.contains(member.key) {
            if member.key == "meta", case .object(var meta) = member.value {
                var tags = meta["tag"]?.arrayValue ?? []
                tags.append(.object(["system": .string("http://terminology.hl7.org/CodeSystem/v3-ObservationValue"),
                                     "code": .string("SUBSETTED"), "display": .string("subsetted")]))
                meta["tag"] = .array(tags)
                subset.append("meta", .object(meta))
            } else {
                subset.append(member.key, member.value)
            }
        }
        return .object(subset)
    }
}
