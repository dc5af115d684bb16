/// Where a FHIR resource type lives in the HMS and which column answers each search parameter.
public struct HMSResourceTable: Sendable {
    public enum SearchColumn: Sendable {
        /// Matches if any column matches (`name` looks at given, middle and family names).
        case string([HMSColumn])
        case token(HMSColumn, system: IdentifierSystem?, codes: [String: [String]]?)
        /// A boolean column searched as `true`/`false`.
        case booleanToken(HMSColumn)
        /// A code every row has (`MedicationRequest.intent` is always `order`).
        case constantToken(system: String, code: String)
        /// A point (`end` nil) or a period.
        case date(start: HMSColumn, end: HMSColumn?)
        case reference(target: String, HMSColumn)
        /// `MedicationRequest.encounter`: `apt-` ids are appointments, `adm-` ids admissions.
        case encounterReference(appointment: HMSColumn, admission: HMSColumn)
        /// A multi-valued token of a stored resource, in `stored_resource_tokens`.
        case indexedToken(parameter: String)
        /// A multi-valued reference of a stored resource (`Type/id` in `stored_resource_tokens`).
        case indexedReference(parameter: String, target: String)
        /// A comma-separated list of patient ids (the audit trail's `patients`).
        case listedReference(target: String, HMSColumn)
        /// `valueQuantity`: number, unit system and unit code columns.
        case quantity(value: HMSColumn, system: HMSColumn, code: HMSColumn)
    }

    /// Where rows come from: HMS tables (read-only, mapped) or the gateway's own store of posted resources.
    public enum Storage: Sendable { case hms, stored }

    /// A column equality every query of this type carries (the resource type in the shared store table).
    public struct FixedFilter: Sendable {
        public let column: HMSColumn
        public let value: String
    }

    /// A code system fixed by the gateway or derived from the tenant slug (`urn:hms:<slug>:<suffix>`).
    public enum IdentifierSystem: Sendable, Equatable {
        case fixed(String)
        case tenant(suffix: String)

        public func value(tenant slug: String) -> String {
            switch self {
            case .fixed(let system): system
            case .tenant(let suffix): "urn:hms:\(slug):\(suffix)"
            }
        }
    }

    public let resourceType: String
    public var storage: Storage = .hms
    public var fixedFilters: [FixedFilter] = []
    public let table: String
    /// The FHIR id column: `id` for plain tables, `fhir_id` for the encounter view.
    public let idColumn: HMSColumn
    public let lastUpdatedColumn: HMSColumn
    public let columns: [HMSColumn]
    public let searchColumns: [String: SearchColumn]
    /// Columns to order by for each sortable parameter.
    public let sortColumns: [String: [HMSColumn]]

    /// Columns that order rows uniquely after the sort keys (keyset tie-break): the id, or
    /// `(kind, source_id)` for encounters so each HMS table keeps using its own primary key index.
    public var keyColumns: [HMSColumn] {
        resourceType == "Encounter" ? [HMSColumn("kind", .text), HMSColumn("source_id", .uuid)] : [idColumn]
    }

    /// The values of ``keyColumns`` for a FHIR id, or nil when the id is malformed.
    public func keyValues(fhirID: String) -> [String]? {
        if resourceType == "Encounter" { return EncounterID.parse(fhirID).map { [$0.kind, $0.uuid] } }
        return HMSIdentifier.normalizedUUID(fhirID).map { [$0] }
    }

    /// The column naming the hospital a row belongs to (a hospital's own id for Organization); nil
    /// where rows have none, which a hospital-confined token then cannot see at all.
    public var hospitalColumn: HMSColumn? {
        switch table {
        case "patients", "doctors", "hms_encounters", "prescriptions", "stored_resources": HMSColumn("hospital_id", .uuid)
        case "hospitals": idColumn
        default: nil
        }
    }

    public static func `for`(_ resourceType: String) -> HMSResourceTable? { all[resourceType] }

    public static let all: [String: HMSResourceTable] = Dictionary(
        uniqueKeysWithValues: [patient, practitioner, encounter, medicationRequest, organization, observation, diagnosticReport, auditEvent]
            .map { ($0.resourceType, $0) })
}
