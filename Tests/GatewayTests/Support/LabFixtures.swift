import FHIRModels
import Foundation

/// Lab resources as a partner posts them, with exact decimals written out.
enum LabFixtures {
    static func observation(patient: String, code: String = "718-7", value: String = "7.10", identifier: String? = nil,
                            effective: String = "2025-03-05T08:30:00Z", status: String = "final") -> String {
        let identifierJSON = identifier.map { #""identifier":[{"system":"urn:oid:1.2.3.4.5","value":"\#($0)"}],"# } ?? ""
        return """
        {"resourceType":"Observation","id":"client-chosen-id",\(identifierJSON)"status":"\(status)",
         "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory","display":"Laboratory"}]}],
         "code":{"coding":[{"system":"http://loinc.org","code":"\(code)","display":"Hemoglobin [Mass/volume] in Blood"}],"text":"Hemoglobin"},
         "subject":{"reference":"Patient/\(patient)"},"effectiveDateTime":"\(effective)",
         "valueQuantity":{"value":\(value),"unit":"g/dL","system":"http://unitsofmeasure.org","code":"g/dL"},
         "referenceRange":[{"low":{"value":0.1234567890123456789,"unit":"g/dL"},"high":{"value":17.50,"unit":"g/dL"}}],
         "extension":[{"url":"https://lab.example.org/fhir/StructureDefinition/analyser","valueString":"XN-1000 #7"}]}
        """
    }

    static func report(patient: String, results: [String], identifier: String? = nil) -> String {
        let identifierJSON = identifier.map { #""identifier":[{"system":"urn:oid:1.2.3.4.6","value":"\#($0)"}],"# } ?? ""
        let references = results.map { #"{"reference":"\#($0)"}"# }.joined(separator: ",")
        return """
        {"resourceType":"DiagnosticReport",\(identifierJSON)"status":"final",
         "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0074","code":"LAB"}]}],
         "code":{"coding":[{"system":"http://loinc.org","code":"58410-2","display":"CBC panel - Blood by Automated count"}]},
         "subject":{"reference":"Patient/\(patient)"},"effectiveDateTime":"2025-03-05T08:30:00Z","issued":"2025-03-05T12:00:00Z",
         "result":[\(references)]}
        """
    }

    static let sharedFHIR: String = ProcessInfo.processInfo.environment["FHIR_SHARED"]
        ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("../shared/fhir").standardized.path

    static func example(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(sharedFHIR)/us-core/examples/\(name)"))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    static func jsonString(_ object: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }
}
