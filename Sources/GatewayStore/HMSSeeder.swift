import FHIRModels
import Logging

/// Fills the HMS tables with deterministic synthetic data. Tenants collide on purpose: patient
/// number N has the same MRN, name and birth date in every tenant, doctors the same registration numbers.
public struct HMSSeeder: Sendable {
    public struct Summary: Sendable, CustomStringConvertible {
        public var tenants = 0
        public var skippedTenants: [String] = []
        public var hospitals = 0, patients = 0, doctors = 0, appointments = 0, admissions = 0, prescriptions = 0
        public var description: String {
            "tenants: \(tenants) seeded\(skippedTenants.isEmpty ? "" : ", skipped (already present): \(skippedTenants.joined(separator: ","))"), hospitals: \(hospitals), patients: \(patients), doctors: \(doctors), appointments: \(appointments), admissions: \(admissions), prescriptions: \(prescriptions)"
        }
    }

    let repository: HMSRepository
    let batchSize: Int

    public init(repository: HMSRepository, batchSize: Int = 2000) {
        self.repository = repository
        self.batchSize = batchSize
    }

    /// Epoch seconds of 2025-01-01T00:00:00Z: synthetic dates are relative to it, so data never depend on the clock.
    static let epoch: Int64 = 1_735_689_600

    /// The HMS tenant id a seeded tenant gets.
    public static func tenantID(slug: String) -> String { SplitMix64.uuid("tenant", slug) }

    public func seed(tenants: [(slug: String, name: String)], patientsPerTenant: Int, logger: Logger) async throws -> Summary {
        var summary = Summary()
        let existing = try await repository.tenantIDs()
        for tenant in tenants {
            if existing[tenant.slug] != nil {
                summary.skippedTenants.append(tenant.slug)
                continue
            }
            try await seed(slug: tenant.slug, name: tenant.name, patients: patientsPerTenant, summary: &summary)
            summary.tenants += 1
            logger.info("seeded tenant", metadata: ["tenant": "\(tenant.slug)", "patients": "\(patientsPerTenant)"])
        }
        if summary.tenants > 0 { try await repository.backend.analyze() }
        return summary
    }

    private func insert(_ table: String, _ rows: [[String: SQLBind]], tenantID: String) async throws {
        guard let definition = HMSSchema.table(table) else { throw StoreError("unknown table \(table)") }
        let ordered = rows.map { row in definition.columns.map { row[$0.name] ?? .null } }
        try await repository.backend.insert(table: table, columns: definition.columns, rows: ordered, tenantID: tenantID)
    }

    static func instant(_ seconds: Int64) -> SQLBind { .timestamp(CivilTime.isoInstant(epochSeconds: seconds)) }

    private func seed(slug: String, name: String, patients: Int, summary: inout Summary) async throws {
        let tenantID = Self.tenantID(slug: slug)
        try await repository.backend.upsertTenant(id: tenantID, slug: slug, name: name, updatedAt: CivilTime.isoInstant(epochSeconds: Self.epoch))
        let updated = Self.instant(Self.epoch + 86400 * 150)

        var hospitals: [[String: SQLBind]] = []
        var departments: [[String: SQLBind]] = []
        let hospitalIDs = (0..<2).map { SplitMix64.uuid(slug, "hospital", String($0)) }
        var departmentIDs: [[String]] = []
        for (index, hospitalID) in hospitalIDs.enumerated() {
            let city = SyntheticData.cities[index % SyntheticData.cities.count]
            hospitals.append([
                "id": .uuid(hospitalID), "tenant_id": .uuid(tenantID), "code": .text("H\(index + 1)"),
                "name": .text(index == 0 ? "\(city.0) General Hospital" : "\(city.0) Community Hospital"),
                "phone": .text("+1-555-01\(index)0"), "email": .text("contact@h\(index + 1).example.org"),
                "address_line": .text("\(100 + index) Hospital Road"), "city": .text(city.0), "state": .text(city.1),
                "postal_code": .text(city.2), "country": .text("US"), "active": .bool(true), "updated_at": updated,
            ])
            var ids: [String] = []
            for (code, departmentName) in SyntheticData.departments {
                let id = SplitMix64.uuid(slug, "department", String(index), code)
                ids.append(id)
                departments.append(["id": .uuid(id), "tenant_id": .uuid(tenantID), "hospital_id": .uuid(hospitalID),
                                    "code": .text(code), "name": .text(departmentName), "updated_at": updated])
            }
            departmentIDs.append(ids)
        }
        try await insert("hospitals", hospitals, tenantID: tenantID)
        try await insert("departments", departments, tenantID: tenantID)
        summary.hospitals += hospitals.count

        let doctorCount = max(4, patients / 40)
        var doctors: [[String: SQLBind]] = []
        for index in 0..<doctorCount {
            var random = SplitMix64(seed: SplitMix64.hash("doctor/\(index)"))
            let hospital = index % hospitalIDs.count
            let department = index % SyntheticData.departments.count
            let given = random.pick(SyntheticData.givenNames)
            let family = random.pick(SyntheticData.familyNames)
            doctors.append([
                "id": .uuid(SplitMix64.uuid(slug, "doctor", String(index))), "tenant_id": .uuid(tenantID),
                "hospital_id": .uuid(hospitalIDs[hospital]), "department_id": .uuid(departmentIDs[hospital][department]),
                "given_name": .text(given), "family_name": .text(family), "gender": .text(random.int(2) == 0 ? "female" : "male"),
                "specialisation": .text(SyntheticData.specialisations[department]),
                "registration_number": .text("REG-\(100000 + index)"), "registration_council": .text(random.pick(SyntheticData.councils)),
                "phone": .text("+1-555-02\(String(format2: index % 100))"), "email": .text("dr.\(index)@hospital.example.org"),
                "active": .bool(true), "updated_at": updated,
            ])
            if doctors.count >= batchSize {
                try await insert("doctors", doctors, tenantID: tenantID)
                summary.doctors += doctors.count
                doctors.removeAll(keepingCapacity: true)
            }
        }
        try await insert("doctors", doctors, tenantID: tenantID)
        summary.doctors += doctors.count

        var start = 0
        while start < patients {
            let end = min(patients, start + batchSize)
            try await seedPatients(slug: slug, tenantID: tenantID, range: start..<end, hospitalIDs: hospitalIDs,
                                   departmentIDs: departmentIDs, doctorCount: doctorCount, summary: &summary)
            start = end
        }
    }

    private func seedPatients(slug: String, tenantID: String, range: Range<Int>, hospitalIDs: [String], departmentIDs: [[String]],
                              doctorCount: Int, summary: inout Summary) async throws {
        var patients: [[String: SQLBind]] = []
        var appointments: [[String: SQLBind]] = []
        var admissions: [[String: SQLBind]] = []
        var prescriptions: [[String: SQLBind]] = []
        for index in range {
            var random = SplitMix64(seed: SplitMix64.hash("patient/\(index)"))
            let patientID = SplitMix64.uuid(slug, "patient", String(index))
            let hospital = index % hospitalIDs.count
            let city = random.pick(SyntheticData.cities)
            let birthDays = CivilTime.days(year: 1940, month: 1, day: 1) + random.int(365 * 80)
            let (by, bm, bd) = CivilTime.date(fromDays: birthDays)
            let deceased = random.int(50) == 0
            let updatedAt = Self.epoch + 86400 * 100 + Int64(index % 86400)
            patients.append([
                "id": .uuid(patientID), "tenant_id": .uuid(tenantID), "hospital_id": .uuid(hospitalIDs[hospital]),
                "mrn": .text("MRN\(String(7, index))"), "given_name": .text(random.pick(SyntheticData.givenNames)),
                "middle_name": random.int(3) == 0 ? .text(random.pick(SyntheticData.middleNames)) : .null,
                "family_name": .text(random.pick(SyntheticData.familyNames)),
                "gender": .text(["female", "male", "female", "male", "other", "unknown"][random.int(6)]),
                "birth_date": .date("\(String(4, by))-\(String(2, bm))-\(String(2, bd))"),
                "phone": .text("+1-555-\(String(4, random.int(10000)))"), "email": .text("patient\(index)@mail.example.com"),
                "address_line": .text("\(1 + random.int(999)) \(random.pick(SyntheticData.streets))"), "city": .text(city.0),
                "state": .text(city.1), "postal_code": .text(city.2), "country": .text("US"),
                "deceased_at": deceased ? Self.instant(Self.epoch + Int64(random.int(150)) * 86400) : .null,
                "active": .bool(!deceased), "updated_at": Self.instant(updatedAt),
            ])
            for visit in 0..<2 {
                var visitRandom = SplitMix64(seed: SplitMix64.hash("appointment/\(index)/\(visit)"))
                let appointmentID = SplitMix64.uuid(slug, "appointment", String(index), String(visit))
                let doctor = visitRandom.int(doctorCount)
                let department = doctor % SyntheticData.departments.count
                let startAt = Self.epoch - 86400 * 200 + Int64(visitRandom.int(400)) * 86400 + Int64(8 + visitRandom.int(9)) * 3600
                let status = visitRandom.pick(SyntheticData.appointmentStatuses)
                appointments.append([
                    "id": .uuid(appointmentID), "tenant_id": .uuid(tenantID), "hospital_id": .uuid(hospitalIDs[doctor % hospitalIDs.count]),
                    "patient_id": .uuid(patientID), "doctor_id": .uuid(SplitMix64.uuid(slug, "doctor", String(doctor))),
                    "department_id": .uuid(departmentIDs[doctor % hospitalIDs.count][department]),
                    "appointment_number": .text("APT-\(String(8, index * 2 + visit))"),
                    "start_at": Self.instant(startAt), "end_at": Self.instant(startAt + 1800), "status": .text(status),
                    "reason": .text(visitRandom.pick(SyntheticData.reasons)), "updated_at": Self.instant(startAt + 3600),
                ])
                if status == "completed", visitRandom.int(10) < 7 {
                    prescriptions.append(prescription(slug: slug, tenantID: tenantID, key: "apt/\(index)/\(visit)", random: &visitRandom,
                                                      patientID: patientID, doctor: doctor, hospitalID: hospitalIDs[doctor % hospitalIDs.count],
                                                      appointmentID: appointmentID, admissionID: nil, at: startAt + 1200))
                }
            }
            if index % 4 == 0 {
                var stay = SplitMix64(seed: SplitMix64.hash("admission/\(index)"))
                let admissionID = SplitMix64.uuid(slug, "admission", String(index))
                let doctor = stay.int(doctorCount)
                let admittedAt = Self.epoch - 86400 * 150 + Int64(stay.int(300)) * 86400 + Int64(stay.int(86400))
                let current = admittedAt > Self.epoch + 86400 * 140
                let dischargedAt = admittedAt + Int64(1 + stay.int(10)) * 86400
                admissions.append([
                    "id": .uuid(admissionID), "tenant_id": .uuid(tenantID), "hospital_id": .uuid(hospitalIDs[doctor % hospitalIDs.count]),
                    "patient_id": .uuid(patientID), "doctor_id": .uuid(SplitMix64.uuid(slug, "doctor", String(doctor))),
                    "department_id": .uuid(departmentIDs[doctor % hospitalIDs.count][doctor % SyntheticData.departments.count]),
                    "admission_number": .text("ADM-\(String(8, index))"), "ward": .text(stay.pick(SyntheticData.wards)),
                    "bed": .text(String(1 + stay.int(40))), "admitted_at": Self.instant(admittedAt),
                    "discharged_at": current ? .null : Self.instant(dischargedAt), "status": .text(current ? "admitted" : "discharged"),
                    "discharge_disposition": current ? .null : .text(stay.pick(SyntheticData.dispositions)),
                    "reason": .text(stay.pick(SyntheticData.admissionReasons)),
                    "updated_at": Self.instant(current ? admittedAt : dischargedAt),
                ])
                prescriptions.append(prescription(slug: slug, tenantID: tenantID, key: "adm/\(index)", random: &stay, patientID: patientID,
                                                  doctor: doctor, hospitalID: hospitalIDs[doctor % hospitalIDs.count], appointmentID: nil,
                                                  admissionID: admissionID, at: admittedAt + 7200))
            }
        }
        try await insert("patients", patients, tenantID: tenantID)
        try await insert("appointments", appointments, tenantID: tenantID)
        try await insert("admissions", admissions, tenantID: tenantID)
        try await insert("prescriptions", prescriptions, tenantID: tenantID)
        summary.patients += patients.count
        summary.appointments += appointments.count
        summary.admissions += admissions.count
        summary.prescriptions += prescriptions.count
    }

    private func prescription(slug: String, tenantID: String, key: String, random: inout SplitMix64, patientID: String, doctor: Int,
                              hospitalID: String, appointmentID: String?, admissionID: String?, at: Int64) -> [String: SQLBind] {
        let medicine = random.pick(SyntheticData.medicines)
        let days = [5, 7, 10, 14, 30, 90][random.int(6)]
        let perDay = medicine.4
        return [
            "id": .uuid(SplitMix64.uuid(slug, "prescription", key)), "tenant_id": .uuid(tenantID), "hospital_id": .uuid(hospitalID),
            "patient_id": .uuid(patientID), "doctor_id": .uuid(SplitMix64.uuid(slug, "doctor", String(doctor))),
            "appointment_id": appointmentID.map(SQLBind.uuid) ?? .null, "admission_id": admissionID.map(SQLBind.uuid) ?? .null,
            "medicine_name": .text(medicine.0), "medicine_code": .text(medicine.1), "strength": .text(medicine.2),
            "dosage_instructions": .text("\(medicine.2) \(perDay == 1 ? "once" : "\(perDay) times") daily for \(days) days"),
            "frequency_per_day": .integer(Int64(perDay)), "route": .text(medicine.3), "duration_days": .integer(Int64(days)),
            "quantity": .integer(Int64(perDay * days)), "refills": .integer(Int64(random.int(3))),
            "status": .text(random.pick(SyntheticData.prescriptionStatuses)), "prescribed_at": Self.instant(at),
            "updated_at": Self.instant(at + 60),
        ]
    }
}

extension String {
    /// `value` in decimal, left-padded with zeros to `width`.
    init(_ width: Int, _ value: Int) {
        let digits = Swift.String(value)
        self = digits.count >= width ? digits : Swift.String(repeating: "0", count: width - digits.count) + digits
    }

    init(format2 value: Int) { self.init(2, value) }
}
