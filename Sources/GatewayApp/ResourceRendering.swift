import FHIRModels
import HMSMapping

/// Turns a row into the resource the client sees: HMS rows are mapped, stored rows are the JSON
/// as the partner posted it (with the gateway's `id` and `meta`).
enum ResourceRendering {
    static func resource(_ type: String, row: HMSRow, tenant: ResolvedTenant) -> JSON? {
        if TenantTypes.isStored(type) {
            guard let body = HMSResourceMapper.storedBody(row) else { return nil }
            return try? JSONParser.parse(Array(body.utf8), maximumDepth: 64)
        }
        return HMSResourceMapper.resource(type, row: row, context: tenant.mapping)
    }

    /// `meta.versionId` and `meta.lastUpdated` (epoch seconds) of a row.
    static func version(_ type: String, row: HMSRow) -> (id: String, lastUpdated: Int64) {
        HMSResourceMapper.version(type, row: row)
    }
}

enum TenantTypes {
    static func isStored(_ type: String) -> Bool { HMSResourceTable.for(type)?.storage == .stored }
}
