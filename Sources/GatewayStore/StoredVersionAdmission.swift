import FHIRModels
import FHIRSearch
import GatewayAuth
import HMSMapping

/// Decides in memory whether one stored version lies inside a scope's restriction (patient
/// compartment and granular filters), as the SQL for the current version would. Old versions keep
/// only their body, so `vread` and `_history` check each one here. Anything this check cannot
/// evaluate exactly (date and quantity filters) admits nothing: narrower, never wider.
public enum StoredVersionAdmission {
    public static func admits(_ resource: JSON, type: String, baseURL: String, scope: TenantScope) -> Bool {
        let restriction = scope.restriction
        guard let table = HMSResourceTable.for(type), table.storage == .stored else { return false }
        let index = SearchIndex.extract(from: resource, baseURL: baseURL)
        if let patient = restriction.patient {
            guard AccessRestriction.compartmentTypes.contains(type), let uuid = HMSIdentifier.normalizedUUID(patient),
                  index.patientID.flatMap(HMSIdentifier.normalizedUUID) == uuid else { return false }
        }
        let id = resource["id"]?.stringValue ?? ""
        for clause in restriction.clauses[type] ?? [] {
            guard let matched = matches(clause, index: index, id: id, table: table, slug: scope.slug), matched else { return false }
        }
        return true
    }

    /// Nil when the clause cannot be evaluated here.
    static func matches(_ clause: SearchClause, index: SearchIndex, id: String, table: HMSResourceTable, slug: String) -> Bool? {
        if clause.parameter.name == "_id" {
            if let missing = clause.missing { return !missing }
            let any = clause.values.contains { value in
                guard case .token(let token) = value, token.system == nil, let code = token.code else { return false }
                return HMSIdentifier.normalizedUUID(code) == id
            }
            return clause.modifier == "not" ? !any : any
        }
        guard let column = table.searchColumns[clause.parameter.name] else { return nil }
        let present: Bool
        let any: Bool
        switch column {
        case .reference(let target, _):
            present = index.patientID != nil
            any = clause.values.contains { value in
                guard case .reference(let reference) = value, reference.type == nil || reference.type == target,
                      let uuid = HMSIdentifier.normalizedUUID(reference.id) else { return false }
                return index.patientID.flatMap(HMSIdentifier.normalizedUUID) == uuid
            }
        case .indexedToken(let parameter):
            let tokens = index.tokens.filter { $0.parameter == parameter }
            present = !tokens.isEmpty
            any = clause.values.contains { value in
                guard case .token(let wanted) = value else { return false }
                return tokens.contains { (wanted.system == nil || wanted.system == $0.system) && (wanted.code == nil || wanted.code == $0.code) }
            }
        case .indexedReference(let parameter, let target):
            let tokens = index.tokens.filter { $0.parameter == parameter }
            present = !tokens.isEmpty
            any = clause.values.contains { value in
                guard case .reference(let reference) = value, reference.type == nil || reference.type == target,
                      let uuid = HMSIdentifier.normalizedUUID(reference.id) else { return false }
                return tokens.contains { $0.code == "\(target)/\(uuid)" }
            }
        case .token(_, let system, nil):
            present = index.status != nil
            any = clause.values.contains { value in
                guard case .token(let wanted) = value else { return false }
                if let requested = wanted.system, requested != (system?.value(tenant: slug) ?? "") { return false }
                guard let code = wanted.code else { return index.status != nil }
                return index.status == code
            }
        default:
            return nil
        }
        if let missing = clause.missing { return missing ? !present : present }
        if clause.modifier == "not" {
            if case .token = column { return !present || !any }
            return !any
        }
        return any
    }
}
