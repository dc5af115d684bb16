import Crypto
import FHIRModels
import Foundation
import GatewayAuth
import GatewayStore

/// Opaque paging cursors bound to a tenant, a resource type and the exact query. They are
/// sealed with AES-GCM: authenticated, so they cannot be forged, and encrypted, because the
/// last row's sort values (a family name, a birth date) must not travel readable in URLs.
struct CursorCodec: Sendable {
    let key: SymmetricKey

    init(secret: String) {
        key = SymmetricKey(data: SHA256.hash(data: Data(("fhir-gateway-cursor:" + secret).utf8)))
    }

    static func queryDigest(_ parameters: [(String, String)]) -> String {
        let canonical = QueryString.format(parameters.filter { $0.0 != "_cursor" })
        return Base64URL.encode(Data(SHA256.hash(data: Data(canonical.utf8))).prefix(16))
    }

    /// Longest cursor accepted (a cursor that carries a POSTed search's criteria is longer).
    static let maximumLength = 16_384

    /// `carry`: the criteria travel inside the sealed cursor instead of the URL (searches POSTed
    /// with their criteria in the body, which may name patients and must not end up in links and logs).
    func encode(tenant: String, resourceType: String, parameters: [(String, String)], position: PagePosition, carry: Bool = false) -> String {
        var payload = JSONObject()
        payload.append("t", tenant)
        payload.append("r", resourceType)
        payload.append("q", Self.queryDigest(parameters))
        payload.append("v", .array(position.sortValues.map(JSON.string)))
        payload.append("i", position.id)
        if carry { payload.append("p", .array(parameters.map { JSON.array([.string($0.0), .string($0.1)]) })) }
        let body = Data(JSON.object(payload).serialized)
        guard let sealed = try? AES.GCM.seal(body, using: key).combined else { return "" }
        return Base64URL.encode(sealed)
    }

    /// The criteria a cursor carries (see `encode(carry:)`), if it is authentic, for this tenant and type.
    func carriedParameters(_ cursor: String, tenant: String, resourceType: String) -> [(String, String)]? {
        guard let object = try? open(cursor), object["t"]?.stringValue == tenant, object["r"]?.stringValue == resourceType,
              let pairs = object["p"]?.arrayValue else { return nil }
        var parameters: [(String, String)] = []
        for pair in pairs {
            guard let items = pair.arrayValue, items.count == 2, let name = items[0].stringValue, let value = items[1].stringValue else { return nil }
            parameters.append((name, value))
        }
        return parameters
    }

    private func open(_ cursor: String) throws(FHIRError) -> JSONObject {
        let invalid = FHIRError.badRequest("the paging cursor is invalid for this search", code: .invalid, expression: ["_cursor"])
        guard cursor.utf8.count <= Self.maximumLength, let sealed = Base64URL.decode(cursor).map({ Data($0) }), let box = try? AES.GCM.SealedBox(combined: sealed),
              let body = try? AES.GCM.open(box, using: key),
              let payload = try? JSONParser.parse([UInt8](body)), case .object(let object) = payload else { throw invalid }
        return object
    }

    /// The position, if the cursor is authentic and was issued for this tenant, type and query.
    func decode(_ cursor: String, tenant: String, resourceType: String, parameters: [(String, String)]) throws(FHIRError) -> PagePosition {
        let invalid = FHIRError.badRequest("the paging cursor is invalid for this search", code: .invalid, expression: ["_cursor"])
        let object = try open(cursor)
        guard object["t"]?.stringValue == tenant, object["r"]?.stringValue == resourceType,
              object["q"]?.stringValue == Self.queryDigest(parameters),
              let id = object["i"]?.stringValue, let values = object["v"]?.arrayValue else { throw invalid }
        return PagePosition(sortValues: values.compactMap(\.stringValue), id: id)
    }
}
