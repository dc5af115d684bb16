import FHIRModels
import GatewayAuth
import GatewayStore

/// Builds the audit records of writes so they commit in the same transaction as the writes:
/// stored data never exists without its record.
struct WriteAuditor: Sendable {
    let tenantID: String
    let request: RequestRecord
    let scope: TenantScope
    let address: String?
    let baseURL: String

    /// The record of one write (`create` or `update`), naming what was stored.
    func record(interaction: String, status: Int, resources: [JSON]) -> HMSRepository.AuditRecord {
        let subjects = AuditSubjects(baseURL: baseURL)
        for resource in resources { subjects.note(resource) }
        var request = self.request
        request.interaction = interaction
        return AuditEventBuilder.record(tenantID: tenantID, record: request, status: status, scope: scope, subjects: subjects,
                                        query: nil, address: address)
    }
}
