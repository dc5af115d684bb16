import FHIRModels
import Foundation
import GatewayStore

/// The AuditEvent of one admin action, for the admin chain: who, what (the tenant), and the
/// tenant's document before and after (base64, as `entity.detail`).
enum AdminAuditEvent {
    static let subtypeSystem = "https://fhir-gateway.dev/CodeSystem/admin-action"

    static func record(action name: String, actor: TenantRegistry.Actor, slug: String, before: String?, after: String?,
                       note: String?) -> HMSRepository.AuditRecord {
        let id = UUID().lowercasedString
        let now = Int64(Date().timeIntervalSince1970)
        let action = before == nil ? "C" : (after == nil ? "D" : "U")
        var event = JSONObject()
        event.append("resourceType", "AuditEvent")
        event.append("id", id)
        event.append("type", .object(["system": .string("http://dicom.nema.org/resources/ontology/DCM"), "code": .string("110131"),
                                      "display": .string("Software Configuration")]))
        event.append("subtype", .array([.object(["system": .string(subtypeSystem), "code": .string(name)])]))
        event.append("action", action)
        event.append("recorded", CivilTime.isoInstant(epochSeconds: now))
        event.append("outcome", "0")
        event.append("outcomeDesc", note)
        var who = JSONObject()
        who.append("identifier", .object(["value": .string(actor.subject)]))
        var agent = JSONObject()
        agent.append("who", .object(who))
        agent.append("altId", actor.clientID)
        agent.append("requestor", .bool(true))
        if let address = actor.address { agent.append("network", .object(["address": .string(address), "type": .string("2")])) }
        event.append("agent", .array([.object(agent)]))
        event.append("source", .object(["observer": .object(["display": .string("fhir-gateway admin")])]))
        var details: [JSON] = []
        if let before { details.append(.object(["type": .string("before"), "valueBase64Binary": .string(Data(before.utf8).base64EncodedString())])) }
        if let after { details.append(.object(["type": .string("after"), "valueBase64Binary": .string(Data(after.utf8).base64EncodedString())])) }
        var entity = JSONObject()
        entity.append("what", .object(["identifier": .object(["system": .string("https://fhir-gateway.dev/tenant"), "value": .string(slug)])]))
        if !details.isEmpty { entity.append("detail", .array(details)) }
        event.append("entity", .array([.object(entity)]))
        return HMSRepository.AuditRecord(tenantID: HMSRepository.adminChainTenantID, id: id, recorded: now, action: action, subtype: name,
                                         outcome: "0", agent: actor.subject, patients: [], event: .object(event))
    }
}
