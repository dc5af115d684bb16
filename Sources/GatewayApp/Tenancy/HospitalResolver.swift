import Foundation
import GatewayStore
import HMSMapping
import Synchronization

/// Turns a token's hospital claim (hospital codes, Organization ids, or `Organization/<id>`) into
/// the tenant's HMS hospital ids. Each tenant's hospitals are read at most once a minute, and again
/// (at most every 5 s) when a claim names one not seen yet, so a new hospital is known quickly.
final class HospitalResolver: Sendable {
    static let refreshSeconds: Int64 = 60
    static let missRefreshSeconds: Int64 = 5

    private struct Known {
        var ids: [String: String]
        var fetchedAt: Int64
    }

    private let known = Mutex<[String: Known]>([:])

    /// The hospital ids `names` stand for in the tenant, or nil when any of them is not one of its
    /// hospitals (whether or not it exists elsewhere: the caller answers the same either way).
    func resolve(_ names: [String], tenantID: String, in repository: HMSRepository, now: Int64 = Int64(Date().timeIntervalSince1970)) async throws -> Set<String>? {
        let cached = known.withLock { $0[tenantID] }
        if let cached, now - cached.fetchedAt < Self.refreshSeconds, let ids = Self.lookup(names, in: cached.ids) { return ids }
        if let cached, now - cached.fetchedAt < Self.missRefreshSeconds { return Self.lookup(names, in: cached.ids) }
        var ids: [String: String] = [:]
        for hospital in try await repository.hospitals(tenantID: tenantID) {
            ids[hospital.id] = hospital.id
            ids["Organization/\(hospital.id)"] = hospital.id
            if !hospital.code.isEmpty { ids[hospital.code] = hospital.id }
        }
        known.withLock { $0[tenantID] = Known(ids: ids, fetchedAt: now) }
        return Self.lookup(names, in: ids)
    }

    private static func lookup(_ names: [String], in ids: [String: String]) -> Set<String>? {
        var found: Set<String> = []
        for name in names {
            let key = name.hasPrefix("Organization/") ? "Organization/" + (HMSIdentifier.normalizedUUID(String(name.dropFirst(13))) ?? name)
                : (HMSIdentifier.normalizedUUID(name) ?? name)
            guard let id = ids[key] else { return nil }
            found.insert(id)
        }
        return found
    }
}
