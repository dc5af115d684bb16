import FHIRModels
import Foundation
import GatewayAuth
import GatewayStore

/// Builds the AuditEvent of a request, following IHE Basic Audit Log Patterns: no token, no body,
/// no other tenant's identifiers.
enum AuditEventBuilder {
    static func action(for interaction: String) -> String {
        switch interaction {
        case "create", "post": "C"
        case "update", "patch", "put": "U"
        case "delete": "D"
        case "search-type", "transaction", "$validate", "export", "export-complete": "E"
        case "export-cancel": "D"
        default: "R"
        }
    }

    static func outcome(status: Int) -> String {
        switch status {
        case ..<400: "0"
        case 400..<500: "4"
        default: "8"
        }
    }

    static func record(tenantID: String, record: RequestRecord, status: Int, scope: TenantScope?, subjects: AuditSubjects,
                       query: String?, address: String?) -> HMSRepository.AuditRecord {
        let id = UUID().lowercasedString
        let now = Int64(Date().timeIntervalSince1970)
        let interaction = record.interaction ?? "unknown"
        let action = Self.action(for: interaction)
        var event = JSONObject()
        event.append("resourceType", "AuditEvent")
        event.append("id", id)
        event.append("type", .object(["system": .string("http://terminology.hl7.org/CodeSystem/audit-event-type"), "code": .string("rest"),
                                      "display": .string("RESTful Operation")]))
        event.append("subtype", .array([.object(["system": .string("http://hl7.org/fhir/restful-interaction"), "code": .string(interaction)])]))
        event.append("action", action)
        event.append("recorded", CivilTime.isoInstant(epochSeconds: now))
        event.append("outcome", outcome(status: status))
        if status >= 400 { event.append("outcomeDesc", "HTTP \(status)\(record.authFailure.map { " (\($0))" } ?? "")") }
        var agents: [JSON] = []
        var client = JSONObject()
        client.append("type", .object(["coding": .array([.object(["system": .string("http://dicom.nema.org/resources/ontology/DCM"),
                                                                   "code": .string("110150"), "display": .string("Application")])])]))
        client.append("who", .object(["identifier": .object(["value": .string(scope?.clientID ?? "unknown")])]))
        client.append("requestor", .bool(false))
        if let address { client.append("network", .object(["address": .string(address), "type": .string("2")])) }
        agents.append(.object(client))
        if let subject = scope?.subject {
            var user = JSONObject()
            user.append("type", .object(["coding": .array([.object(["system": .string("http://terminology.hl7.org/CodeSystem/v3-ParticipationType"),
                                                                     "code": .string("IRCP"), "display": .string("information recipient")])])]))
            var who = JSONObject()
            if let fhirUser = scope?.fhirUser { who.append("reference", fhirUser) }
            who.append("identifier", .object(["value": .string(subject)]))
            user.append("who", .object(who))
            user.append("requestor", .bool(true))
            agents.append(.object(user))
        }
        event.append("agent", .array(agents))
        var source = JSONObject()
        // The hospitals a confined token acts for, so one branch's trail can be picked out.
        source.append("site", scope?.restriction.hospitals.map { $0.sorted().map { "Organization/\($0)" }.joined(separator: ",") })
        source.append("observer", .object(["display": .string("fhir-gateway")]))
        source.append("type", .array([.object(["system": .string("http://terminology.hl7.org/CodeSystem/security-source-type"),
                                               "code": .string("4"), "display": .string("Application Server")])]))
        event.append("source", .object(source))
        var entities: [JSON] = []
        for patient in subjects.patients {
            entities.append(.object(["what": .object(["reference": .string("Patient/\(patient)")]),
                                     "type": .object(["system": .string("http://terminology.hl7.org/CodeSystem/audit-entity-type"), "code": .string("1")]),
                                     "role": .object(["system": .string("http://terminology.hl7.org/CodeSystem/object-role"), "code": .string("1")])]))
        }
        for resource in subjects.resources where !resource.hasPrefix("Patient/") {
            entities.append(.object(["what": .object(["reference": .string(resource)]),
                                     "type": .object(["system": .string("http://terminology.hl7.org/CodeSystem/audit-entity-type"), "code": .string("2")])]))
        }
        if interaction == "search-type", let query, !query.isEmpty {
            entities.append(.object(["type": .object(["system": .string("http://terminology.hl7.org/CodeSystem/audit-entity-type"), "code": .string("2")]),
                                     "role": .object(["system": .string("http://terminology.hl7.org/CodeSystem/object-role"), "code": .string("24")]),
                                     "query": .string(Data(query.utf8).base64EncodedString())]))
        }
        if let export = subjects.export {
            var details: [JSON] = []
            if let file = export.file { details.append(.object(["type": .string("file"), "valueString": .string(file)])) }
            if let count = export.count { details.append(.object(["type": .string("resources"), "valueString": .string(String(count))])) }
            var entity = JSONObject()
            entity.append("what", .object(["identifier": .object(["system": .string("urn:fhir-gateway:export-job"), "value": .string(export.job)])]))
            entity.append("type", .object(["system": .string("http://terminology.hl7.org/CodeSystem/audit-entity-type"), "code": .string("2")]))
            entity.append("role", .object(["system": .string("http://terminology.hl7.org/CodeSystem/object-role"), "code": .string("20"),
                                           "display": .string("Job")]))
            if !details.isEmpty { entity.append("detail", .array(details)) }
            entities.append(.object(entity))
        }
        entities.append(.object(["what": .object(["identifier": .object(["system": .string("urn:ietf:rfc:7231#X-Request-Id"),
                                                                          "value": .string(record.requestID)])])]))
        event.append("entity", .array(entities))
        return HMSRepository.AuditRecord(tenantID: tenantID, id: id, recorded: now, action: action, subtype: interaction,
                                         outcome: outcome(status: status), agent: scope?.clientID ?? scope?.subject,
                                         patients: subjects.patients, event: .object(event))
    }
}
