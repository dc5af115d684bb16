import FHIRModels
import Foundation

/// Assembles a `searchset` Bundle; every `fullUrl` and link is under the tenant's base.
struct BundleWriter {
    let selfURL: String
    var nextURL: String?
    var total: Int?
    var outcome: JSON?
    private var entries: [JSON] = []

    init(selfURL: String) { self.selfURL = selfURL }

    mutating func add(_ resource: JSON, mode: String, baseURL: String) {
        var entry = JSONObject()
        if let type = resource["resourceType"]?.stringValue, let id = resource["id"]?.stringValue {
            entry.append("fullUrl", "\(baseURL)/\(type)/\(id)")
        }
        entry.append("resource", resource)
        entry.append("search", .object(["mode": .string(mode)]))
        entries.append(.object(entry))
    }

    func json() -> JSON {
        var bundle = JSONObject()
        bundle.append("resourceType", "Bundle")
        bundle.append("id", UUID().lowercasedString)
        bundle.append("meta", .object(["lastUpdated": .string(CivilTime.isoInstant(epochSeconds: Int64(Date().timeIntervalSince1970)))]))
        bundle.append("type", "searchset")
        bundle.append("total", total.map(JSON.int))
        var links: [JSON] = [.object(["relation": .string("self"), "url": .string(selfURL)])]
        if let nextURL { links.append(.object(["relation": .string("next"), "url": .string(nextURL)])) }
        bundle.append("link", .array(links))
        var all = entries
        if let outcome { all.append(.object(["resource": outcome, "search": .object(["mode": .string("outcome")])])) }
        if !all.isEmpty { bundle.append("entry", .array(all)) }
        return .object(bundle)
    }
}
