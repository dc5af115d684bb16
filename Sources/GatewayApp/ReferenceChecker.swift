import FHIRModels
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

    /// Elements whose relative references must resolve to a resource of this tenant. Other relative
    /// references (specimen, basedOn) name types this gateway does not hold and are kept as posted.
    static let verifiedElements: Set<String> = ["subject", "result", "encounter", "performer"]

    /// Problems with the references (422 issues); `extraIDs` are resources created earlier in the same transaction.
    func problems(in resource: JSON, type: String, extraIDs: Set<String> = []) async throws -> [OutcomeIssue] {
        let contained = Set((resource["contained"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue })
        var issues: [OutcomeIssue] = []
        var lookups: [String: [(path: String, id: String)]] = [:]
        for found in Self.references(in: resource, path: type) {
            var reference = found.reference
            if reference.hasPrefix("#") {
                if !contained.contains(String(reference.dropFirst())) {
                    issues.append(OutcomeIssue(code: .processing, diagnostics: "the contained resource '\(reference)' does not exist", expression: [found.path]))
                }
                continue
            }
            if reference.hasPrefix(tenant.baseURL + "/") { reference = String(reference.dropFirst(tenant.baseURL.count + 1)) }
            if reference.contains("://") || reference.hasPrefix("urn:") {
                issues.append(OutcomeIssue(code: .processing, diagnostics: "references to other servers or unresolved placeholders are not accepted; use Type/id of this tenant", expression: [found.path]))
                continue
            }
            let element = found.path.dropFirst(type.count + 1).prefix { $0 != "." && $0 != "[" }
            guard Self.verifiedElements.contains(String(element)) else { continue }
            let parts = reference.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2 || (parts.count == 4 && parts[2] == "_history"),
                  TenantConfiguration.supportedResourceTypes.contains(parts[0]), tenant.configuration.resourceTypes.contains(parts[0]) else {
                issues.append(OutcomeIssue(code: .processing, diagnostics: "the reference cannot be resolved by this server; use Type/id of a resource this tenant serves", expression: [found.path]))
                continue
            }
            if extraIDs.contains("\(parts[0])/\(parts[1])") { continue }
            lookups[parts[0], default: []].append((found.path, parts[1]))
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
}
