import Crypto
import FHIRModels
import FHIRSearch
import Foundation
import GatewayConfig
import HMSMapping

/// Renders each tenant's CapabilityStatement from `capability/CapabilityStatement.template.json`
/// and from the tables the gateway enforces (``SearchRegistry``), so it declares only what works.
struct CapabilityStatementRenderer: Sendable {
    static let softwareVersion = "0.3.0"
    static let releaseDate = "2026-11-30"

    struct Rendered: Sendable {
        let full: JSON
        let summary: JSON
        let etag: String
        let summaryEtag: String
    }

    let template: JSON

    init() throws {
        template = try JSONParser.parse(EmbeddedResources.capabilityTemplate)
    }

    func render(tenant: TenantConfiguration, baseURL: String) -> Rendered {
        let values: [String: String] = [
            "tenant.slug": tenant.slug, "tenant.name": tenant.name, "tenant.base_url": baseURL,
            "tenant.issuer": tenant.issuer, "tenant.tenant_claim": tenant.tenantClaim,
            "tenant.authorization_endpoint": tenant.authorizationEndpoint, "tenant.token_endpoint": tenant.tokenEndpoint,
            "software.version": Self.softwareVersion, "software.release_date": Self.releaseDate,
        ]
        var statement = substitute(template, values: values, tenant: tenant)
        if tenant.profileSet == .usCore, case .object(var object) = statement {
            var rebuilt = JSONObject()
            for member in object.members {
                rebuilt.append(member.key, member.value)
                if member.key == "format" {
                    rebuilt.append("implementationGuide", .array([.string("http://hl7.org/fhir/us/core/ImplementationGuide/hl7.fhir.us.core")]))
                }
            }
            object = rebuilt
            statement = .object(object)
        }
        let summary = Self.summary(of: statement)
        let digest = SHA256.hash(data: statement.serialized).prefix(12).map { String(format: "%02x", $0) }.joined()
        return Rendered(full: statement, summary: summary, etag: "W/\"\(digest)\"", summaryEtag: "W/\"\(digest)-summary\"")
    }

    private func substitute(_ value: JSON, values: [String: String], tenant: TenantConfiguration) -> JSON {
        switch value {
        case .string("{{rest.resource}}"):
            let groups = tenant.resourceTypes.contains("Patient") ? [Self.groupEntry] : []
            return .array((tenant.resourceTypes + ["AuditEvent"]).map { resourceEntry($0, tenant: tenant) } + groups)
        case .string("{{tenant.cors}}"):
            return .bool(!tenant.corsAllowedOrigins.isEmpty)
        case .string("{{rest.interaction}}"):
            let writes = tenant.resourceTypes.contains { TenantConfiguration.writableResourceTypes.contains($0) }
            return .array((writes ? ["transaction", "batch"] : []).map { .object(["code": .string($0)]) })
        case .string(let text):
            guard text.contains("{{") else { return value }
            var result = text
            for (key, replacement) in values { result = result.replacingOccurrences(of: "{{\(key)}}", with: replacement) }
            return .string(result)
        case .array(let items):
            return .array(items.map { substitute($0, values: values, tenant: tenant) })
        case .object(let object):
            var rebuilt = JSONObject()
            for member in object.members {
                let value = substitute(member.value, values: values, tenant: tenant)
                if value == .array([]) { continue }  // FHIR JSON has no empty arrays
                rebuilt.append(member.key, value)
            }
            return .object(rebuilt)
        default:
            return value
        }
    }

    /// Groups exist for `$export` only: each HMS hospital is the Group of the patients registered there.
    static let groupEntry = JSON.object([
        "type": .string("Group"),
        "profile": .string("http://hl7.org/fhir/StructureDefinition/Group"),
        "documentation": .string("Each hospital is a Group of the patients registered there; its id is the hospital's Organization id. Only $export is supported on Groups."),
        "operation": .array([.object(["name": .string("export"), "definition": .string("http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export")])]),
    ])

    private func resourceEntry(_ type: String, tenant: TenantConfiguration) -> JSON {
        var entry = JSONObject()
        entry.append("type", type)
        entry.append("profile", "http://hl7.org/fhir/StructureDefinition/\(type)")
        if let profile = ProfileSets.profile(for: type, in: tenant.profileSet) {
            entry.append("supportedProfile", .array([.string(profile)]))
        }
        let writable = TenantConfiguration.writableResourceTypes.contains(type)
        let interactions = writable ? ["read", "vread", "update", "history-instance", "create", "search-type"] : ["read", "vread", "search-type"]
        entry.append("interaction", .array(interactions.map { .object(["code": .string($0)]) }))
        entry.append("versioning", writable ? "versioned-update" : "versioned")
        entry.append("readHistory", .bool(writable))
        entry.append("updateCreate", .bool(false))
        if writable { entry.append("conditionalCreate", .bool(true)) }
        entry.append("conditionalRead", "full-support")
        if writable { entry.append("conditionalUpdate", .bool(false)) }
        let includes = (SearchRegistry.includes[type] ?? []).filter { tenant.resourceTypes.contains($0.target) }
        if !includes.isEmpty { entry.append("searchInclude", .array(includes.map { .string($0.value) })) }
        let revincludes = (SearchRegistry.revincludes[type] ?? []).filter { tenant.resourceTypes.contains($0.source) }
        if !revincludes.isEmpty { entry.append("searchRevInclude", .array(revincludes.map { .string($0.value) })) }
        entry.append("searchParam", .array(SearchRegistry.definition(for: type).map { parameter in
            var item = JSONObject()
            item.append("name", parameter.name)
            let definitions = EmbeddedResources.searchParameterDefinitions["\(type).\(parameter.name)"]
            let definition = tenant.profileSet == .usCore ? (definitions?.usCore ?? definitions?.r4) : definitions?.r4
            item.append("definition", definition)
            item.append("type", parameter.type.rawValue)
            return .object(item)
        }))
        var operations: [JSON] = []
        if writable {
            operations.append(.object(["name": .string("validate"), "definition": .string("http://hl7.org/fhir/OperationDefinition/Resource-validate")]))
        }
        if type == "Patient" {
            operations.append(.object(["name": .string("export"), "definition": .string("http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export")]))
        }
        if !operations.isEmpty { entry.append("operation", .array(operations)) }
        return .object(entry)
    }

    /// R4 `_summary=true`: the summary elements only, tagged SUBSETTED.
    static func summary(of statement: JSON) -> JSON {
        guard case .object(let object) = statement else { return statement }
        let summaryElements: Set<String> = [
            "resourceType", "id", "meta", "url", "version", "name", "title", "status", "experimental", "date", "publisher",
            "jurisdiction", "kind", "instantiates", "imports", "software", "implementation", "fhirVersion", "format",
            "patchFormat", "implementationGuide",
        ]
        var summary = JSONObject()
        for member in object.members where summaryElements.contains(member.key) {
            summary.append(member.key, member.value)
            if member.key == "id" { summary.append("meta", subsettedMeta) }
        }
        return .object(summary)
    }

    static let subsettedMeta = JSON.object(["tag": .array([.object([
        "system": .string("http://terminology.hl7.org/CodeSystem/v3-ObservationValue"),
        "code": .string("SUBSETTED"), "display": .string("subsetted"),
    ])])])
}
