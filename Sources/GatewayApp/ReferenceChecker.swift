import FHIRModels
import FHIRSearch
import GatewayAuth
import GatewayConfig
import GatewayStore
import HMSMapping

/// Checks that every reference in a posted resource resolves inside the tenant. A reference to
/// another tenant's record answers exactly like one to a record that does not exist, and nothing
/// is ever fetched from an absolute URL.
struct ReferenceChecker {
    let repository: HMSRepository
    let tenant: ResolvedTenant
    let scope: TenantScope

    struct Found {
        let path: String
        let reference: String
    }

    /// Every `reference` of every Reference in the resource, with its FHIRPath-like location.
    static func references(in value: JSON, path: String) -> [Found] {
        switch value {
        case .object(let object):
            var found: [Found] = []
            for member in object.members {
                if member.key == "reference", case .string(let text) = member.value {
                    found.append(Found(path: path, reference: text))
                } else if member.key != "contained" {
                    found += references(in: member.value, path: "\(path).\(member.key)")
                }
            }
            return found
        case .array(let items):
            return items.enumerated().flatMap { references(in: $0.element, path: "\(path)[\($0.offset)]") }
        default:
            return []
        }
    }

    /// Elements the gateway indexes: their references must name a resource this tenant serves.
    static let verifiedElements: Set<String> = ["subject", "result", "encounter", "performer"]

    /// Problems with the references (422 issues); `extraIDs` are resources created earlier in the same transaction.
    func problems(in resource: JSON, type: String, extraIDs: Set<String> = []) async throws -> [OutcomeIssue] {
        var issues = Self.subjectProblems(in: resource, type: type, baseURL: tenant.baseURL)
        var lookups: [String: [(path: String, id: String)]] = [:]
        let contained = resource["contained"]?.arrayValue ?? []
        let containedIDs = Set(contained.compactMap { $0["id"]?.stringValue })
        // The resource's own references, then those inside each contained resource (checked the same way).
        var sources: [(resource: JSON, type: String, path: String)] = [(resource, type, type)]
        for (index, inner) in contained.enumerated() {
            sources.append((inner, inner["resourceType"]?.stringValue ?? "Resource", "\(type).contained[\(index)]"))
        }
        for source in sources {
            for found in Self.references(in: source.resource, path: source.path) {
                let reference = found.reference
                if reference.hasPrefix("#") {
                    if !containedIDs.contains(String(reference.dropFirst())) {
                        issues.append(OutcomeIssue(code: .processing, diagnostics: "the contained resource '\(reference)' does not exist", expression: [found.path]))
                    }
                    continue
                }
                let local = LocalReference.parse(reference, baseURL: tenant.baseURL)
                if local == nil, reference.contains("://") || reference.hasPrefix("urn:") {
                    issues.append(OutcomeIssue(code: .processing, diagnostics: "references to other servers or unresolved placeholders are not accepted; use Type/id of this tenant", expression: [found.path]))
                    continue
                }
                let element = found.path.dropFirst(source.path.count + 1).prefix { $0 != "." && $0 != "[" }
                let served = local.map { TenantConfiguration.supportedResourceTypes.contains($0.type) && tenant.configuration.resourceTypes.contains($0.type) } ?? false
                // Every reference to a type the gateway holds is resolved inside the tenant, whatever the
                // element (focus, hasMember, derivedFrom, ...); references to types it does not hold
                // (Specimen, ServiceRequest) are kept as posted, except in the elements it indexes.
                guard let local, served else {
                    if Self.verifiedElements.contains(String(element)) {
                        issues.append(OutcomeIssue(code: .processing, diagnostics: "the reference cannot be resolved by this server; use Type/id of a resource this tenant serves", expression: [found.path]))
                    }
                    continue
                }
                if extraIDs.contains(local.relative) { continue }
                lookups[local.type, default: []].append((found.path, local.id))
            }
        }
        for (type, wanted) in lookups {
            let rows = try await repository.rows(type, ids: wanted.map(\.id), scope: scope)
            let existing = Set(rows.compactMap { HMSResourceMapper.fhirID(type, row: $0) })
            for item in wanted where !existing.contains(HMSIdentifier.normalizedUUID(item.id) ?? item.id) && !existing.contains(item.id) {
                issues.append(OutcomeIssue(code: .processing, diagnostics: "the reference does not resolve to a \(type) of this tenant", expression: [item.path]))
            }
        }
        return issues
    }

    /// A lab result's `subject` decides whose chart it joins, who may read it and whom the audit names:
    /// it must be a literal reference to a Patient (identifier-only, display-only and contained
    /// subjects cannot be resolved inside the tenant, so they are refused).
    static func subjectProblems(in resource: JSON, type: String, baseURL: String) -> [OutcomeIssue] {
        guard TenantConfiguration.writableResourceTypes.contains(type), let subject = resource["subject"] else { return [] }
        let path = "\(type).subject"
        guard let reference = subject["reference"]?.stringValue else {
            return [OutcomeIssue(code: .required, diagnostics: "subject must be a literal reference Patient/<id> to a patient of this tenant; identifier-only or display-only subjects cannot be resolved", expression: [path])]
        }
        if reference.hasPrefix("#") {
            return [OutcomeIssue(code: .processing, diagnostics: "subject must name a patient of this tenant, not a contained resource", expression: [path])]
        }
        if let declared = subject["type"]?.stringValue, declared != "Patient" {
            return [OutcomeIssue(code: .processing, diagnostics: "subject must be a Patient", expression: [path])]
        }
        // Other servers' and unparseable references are refused by the reference check itself.
        if let local = LocalReference.parse(reference, baseURL: baseURL), local.type != "Patient" {
            return [OutcomeIssue(code: .processing, diagnostics: "subject must be a Patient", expression: [path])]
        }
        return []
    }
}
