/// Word lists for synthetic HMS data. Names include accents and apostrophes on purpose,
/// so string search folding and escaping are exercised by the demo data too.
enum SyntheticData {
    static let givenNames = [
        "James", "Maria", "Wei", "Aisha", "José", "Zoë", "Liam", "Priya", "Noah", "Fatima", "Olivia", "Mateo",
        "Hana", "Kwame", "Elena", "Arjun", "Chloé", "Yusuf", "Sofia", "Ingrid", "Raj", "Amara", "Lucas", "Mei",
    ]
    static let middleNames = ["Anne", "Lee", "Marie", "Kumar", "Rose", "Ali", "Jean", "Grace"]
    static let familyNames = [
        "Smith", "García", "Chen", "Okafor", "Müller", "Núñez", "O'Brien", "Patel", "Nguyen", "Kowalski",
        "Haddad", "Johansson", "Rossi", "Tanaka", "Mensah", "Dubois", "Ivanova", "Silva", "Kim", "Schmidt",
        "Brown", "Singh", "Lopez", "Andersen", "Ahmed", "Costa", "Fischer", "Moreau", "Sato", "Walker",
    ]
    static let cities = [("Springfield", "IL", "62701"), ("Riverside", "CA", "92501"), ("Franklin", "TN", "37064"),
                         ("Greenville", "SC", "29601"), ("Madison", "WI", "53703"), ("Salem", "OR", "97301")]
    static let streets = ["Oak Street", "Maple Avenue", "Cedar Lane", "Elm Road", "Pine Court", "Lakeview Drive"]
    static let departments = [("GEN", "General Medicine"), ("CAR", "Cardiology"), ("PED", "Paediatrics"), ("ORT", "Orthopaedics")]
    static let specialisations = ["General Medicine", "Cardiology", "Paediatrics", "Orthopaedic Surgery"]
    static let councils = ["State Medical Board", "National Medical Council"]
    static let reasons = ["Follow-up visit", "Chest pain", "Fever and cough", "Knee pain", "Routine check-up",
                          "Hypertension review", "Diabetes review", "Back pain", "Headache", "Vaccination"]
    static let admissionReasons = ["Pneumonia", "Hip fracture", "Heart failure exacerbation", "Appendicitis", "Observation after fall"]
    static let wards = ["A", "B", "C", "ICU"]
    /// (name, RxNorm code, strength, route, frequency per day)
    static let medicines: [(String, String, String, String, Int)] = [
        ("Amoxicillin 500 MG Oral Capsule", "308191", "500 mg", "oral", 3),
        ("Lisinopril 10 MG Oral Tablet", "314076", "10 mg", "oral", 1),
        ("Metformin hydrochloride 500 MG Oral Tablet", "861007", "500 mg", "oral", 2),
        ("Atorvastatin 20 MG Oral Tablet", "617310", "20 mg", "oral", 1),
        ("Ibuprofen 400 MG Oral Tablet", "197806", "400 mg", "oral", 3),
        ("Ceftriaxone 1000 MG Injection", "1665021", "1 g", "intravenous", 1),
        ("Salbutamol 100 MCG/ACTUAT Inhaler", "745679", "100 mcg", "inhalation", 4),
        ("Enoxaparin 40 MG/0.4ML Injection", "854235", "40 mg", "subcutaneous", 1),
    ]
    static let appointmentStatuses = ["completed", "completed", "completed", "completed", "scheduled", "cancelled", "no_show",
                                      "checked_in", "in_consultation", "completed"]
    static let dispositions = ["home", "home", "home", "transfer", "rehab", "expired", "against_advice"]
    static let prescriptionStatuses = ["active", "completed", "completed", "stopped", "on_hold", "cancelled"]
}

/// A small deterministic generator (SplitMix64), seeded per record so records are stable
/// whatever the batch size, and the same index gives the same person in every tenant.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func int(_ upperBound: Int) -> Int { Int(next() % UInt64(upperBound)) }

    mutating func pick<T>(_ values: [T]) -> T { values[int(values.count)] }

    static func hash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return hash
    }

    /// A version-4-shaped UUID derived from `parts`.
    static func uuid(_ parts: String...) -> String {
        var generator = SplitMix64(seed: hash(parts.joined(separator: "/")))
        let high = generator.next()
        let low = generator.next()
        var bytes = withUnsafeBytes(of: high.bigEndian, Array.init) + withUnsafeBytes(of: low.bigEndian, Array.init)
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = bytes.map { byte -> String in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined()
        let characters = Array(hex)
        return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(characters[$0]) }.joined(separator: "-")
    }
}
