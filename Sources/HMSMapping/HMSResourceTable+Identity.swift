extension HMSResourceTable {
    /// Column equalities that select the row with FHIR id `fhirID`, or nil when the id cannot
    /// exist here (not a UUID, wrong prefix): such ids match nothing and are never sent to SQL.
    public func identityPredicate(fhirID: String) -> [(HMSColumn, String)]? {
        if resourceType == "Encounter" {
            guard let (kind, uuid) = EncounterID.parse(fhirID) else { return nil }
            return [(HMSColumn("kind", .text), kind), (HMSColumn("source_id", .uuid), uuid)]
        }
        guard let uuid = HMSIdentifier.normalizedUUID(fhirID) else { return nil }
        return [(idColumn, uuid)]
    }
}

/// Encounter ids: `apt-<uuid>` for appointments, `adm-<uuid>` for admissions.
public enum EncounterID {
    public static func parse(_ fhirID: String) -> (kind: String, uuid: String)? {
        guard fhirID.utf8.count == 40 else { return nil }
        let kind = String(fhirID.prefix(3))
        guard kind == "apt" || kind == "adm", fhirID.dropFirst(3).first == "-",
              let uuid = HMSIdentifier.normalizedUUID(String(fhirID.dropFirst(4))) else { return nil }
        return (kind, uuid)
    }

    public static func make(kind: String, uuid: String) -> String { "\(kind)-\(uuid)" }
}

public enum HMSIdentifier {
    /// The lowercase canonical form of a UUID, or nil if `text` is not one.
    public static func normalizedUUID(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return nil }
        var output = [UInt8]()
        output.reserveCapacity(36)
        for (index, byte) in bytes.enumerated() {
            if [8, 13, 18, 23].contains(index) {
                guard byte == UInt8(ascii: "-") else { return nil }
                output.append(byte)
                continue
            }
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"): output.append(byte)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): output.append(byte + 32)
            default: return nil
            }
        }
        return String(decoding: output, as: UTF8.self)
    }
}
