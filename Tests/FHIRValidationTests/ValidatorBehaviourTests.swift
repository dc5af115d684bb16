import FHIRModels
import Testing
@testable import FHIRValidation

/// The validator's rules on small inline resources.
@Suite struct ValidatorBehaviourTests {
    /// `code expression` of each issue.
    static func check(_ text: String, expectedType: String? = nil) throws -> [String] {
        StructuralValidator.validate(try JSONParser.parse(text), expectedType: expectedType).map {
            "\($0.code.rawValue) \($0.expression.joined(separator: ","))".trimmingTrailingSpace()
        }
    }

    static let observationHead = #""resourceType": "Observation", "status": "final", "code": {"text": "Hemoglobin"}"#

    @Test func supportedTypes() {
        let required: Set = ["Observation", "DiagnosticReport", "Patient", "Practitioner", "Organization", "Encounter", "Specimen", "Bundle"]
        #expect(required.isSubset(of: StructuralValidator.supportedResourceTypes))
    }

    @Test func theSmallestValidObservation() throws {
        #expect(try Self.check("{\(Self.observationHead)}") == [])
    }

    @Test func notAResource() throws {
        #expect(try Self.check("[]") == ["structure"])
        #expect(try Self.check(#"{"status": "final"}"#) == ["required resourceType"])
        #expect(try Self.check(#"{"resourceType": 7}"#) == ["structure resourceType"])
        #expect(try Self.check(#"{"resourceType": "Condition"}"#) == ["not-supported resourceType"])
        #expect(try Self.check("{\(Self.observationHead)}", expectedType: "Patient") == ["invalid resourceType"])
    }

    @Test func wrongJSONKinds() throws {
        #expect(try Self.check(#"{"resourceType": "Observation", "status": "final", "code": "718-7"}"#) == ["structure Observation.code"])
        #expect(try Self.check(#"{"resourceType": "Observation", "status": ["final"], "code": {"text": "x"}}"#) == ["structure Observation.status"])
        #expect(try Self.check("{\(Self.observationHead), \"valueBoolean\": \"true\"}") == ["structure Observation.value.ofType(boolean)"])
        #expect(try Self.check("{\(Self.observationHead), \"valueString\": 7}") == ["structure Observation.value.ofType(string)"])
        #expect(try Self.check("{\(Self.observationHead), \"component\": [\"x\"]}") == ["structure Observation.component[0]"])
    }

    @Test func emptyAndNullContent() throws {
        #expect(try Self.check("{\(Self.observationHead), \"category\": []}") == ["structure Observation.category"])
        #expect(try Self.check("{\(Self.observationHead), \"subject\": {}}") == ["structure Observation.subject"])
        #expect(try Self.check("{\(Self.observationHead), \"valueString\": \"\"}") == ["value Observation.value.ofType(string)"])
        #expect(try Self.check("{\(Self.observationHead), \"note\": [null]}") == ["structure Observation.note[0]"])
    }

    @Test func numbers() throws {
        #expect(try Self.check("{\(Self.observationHead), \"valueInteger\": 1e2}") == ["value Observation.value.ofType(integer)"])
        #expect(try Self.check("{\(Self.observationHead), \"valueInteger\": 2147483648}") == ["value Observation.value.ofType(integer)"])
        #expect(try Self.check("{\(Self.observationHead), \"valueInteger\": -2147483648}") == [])
        #expect(try Self.check("{\(Self.observationHead), \"valueQuantity\": {\"value\": 1.50e-3}}") == [])
        let sampled = #""valueSampledData": {"origin": {"value": 0}, "period": 10, "dimensions": 0}"#
        #expect(try Self.check("{\(Self.observationHead), \(sampled)}") == ["value Observation.value.ofType(SampledData).dimensions"])
    }

    @Test func codesOfRequiredBindings() throws {
        let quantity = #""valueQuantity": {"value": 5, "comparator": "=<"}"#
        #expect(try Self.check("{\(Self.observationHead), \(quantity)}") == ["code-invalid Observation.value.ofType(Quantity).comparator"])
        #expect(try Self.check(#"{"resourceType": "Bundle", "type": "batch-response", "entry": [{"request": {"method": "FETCH", "url": "x"}}]}"#)
                == ["code-invalid Bundle.entry[0].request.method"])
        #expect(try Self.check(#"{"resourceType": "Patient", "text": {"status": "auto", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}}"#)
                == ["code-invalid Patient.text.status"])
    }

    @Test func primitiveExtensions() throws {
        let absent = #"{"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]}"#
        let valid = """
        {"resourceType": "Patient", "name": [{"family": "Shaw", "given": ["Amy", null], "_given": [null, \(absent)]}],
         "_birthDate": \(absent), "gender": "female", "_gender": {"id": "g1"}}
        """
        #expect(try Self.check(valid) == [])
        // A status given only as extensions still counts as present.
        #expect(try Self.check(#"{"resourceType": "Observation", "_status": \#(absent), "code": {"text": "x"}}"#) == [])
        #expect(try Self.check(#"{"resourceType": "Patient", "name": [{"given": ["Amy", null]}]}"#) == ["structure Patient.name[0].given[1]"])
        #expect(try Self.check(#"{"resourceType": "Patient", "name": [{"given": ["Amy"], "_given": [null, null]}]}"#)
                == ["structure Patient.name[0].given", "structure Patient.name[0].given[1]"])
        #expect(try Self.check(#"{"resourceType": "Patient", "_birthDate": "x"}"#) == ["structure Patient.birthDate"])
        #expect(try Self.check(#"{"resourceType": "Patient", "_birthDate": {"url": "x"}}"#) == ["structure Patient.birthDate.url"])
        #expect(try Self.check("{\(Self.observationHead), \"_code\": \(absent)}") == ["structure Observation._code"])
        // A misplaced `_code` does not stand in for the missing code.
        #expect(try Self.check(#"{"resourceType": "Observation", "status": "final", "_code": \#(absent)}"#)
                == ["structure Observation._code", "required Observation.code"])
        #expect(try Self.check(#"{"resourceType": "Patient", "name": [{"given": ["Amy", null], "_given": [null, null]}]}"#)
                == ["structure Patient.name[0].given[1]"])
        #expect(try Self.check("{\(Self.observationHead), \"_id\": \(absent)}") == ["structure Observation._id"])
        #expect(try Self.check("{\(Self.observationHead), \"_foo\": \(absent)}") == ["structure Observation._foo"])
        #expect(try Self.check("{\(Self.observationHead), \"_valueString\": \(absent)}") == [])
    }

    @Test func extensions() throws {
        let both = #""extension": [{"url": "http://example.org/a", "valueString": "x", "extension": [{"url": "b", "valueCode": "c"}]}]"#
        #expect(try Self.check("{\(Self.observationHead), \(both)}") == ["invariant Observation.extension[0]"])
        let neither = #""modifierExtension": [{"url": "http://example.org/a"}]"#
        #expect(try Self.check("{\(Self.observationHead), \(neither)}") == ["invariant Observation.modifierExtension[0]"])
        let badValue = #""extension": [{"url": "http://example.org/a", "valuePeriod": {"start": "2020-13"}}]"#
        #expect(try Self.check("{\(Self.observationHead), \(badValue)}") == ["value Observation.extension[0].value.ofType(Period).start"])
        let nested = #""extension": [{"url": "http://example.org/a", "extension": [{"valueMeta": {"versionId": "1"}}]}]"#
        #expect(try Self.check("{\(Self.observationHead), \(nested)}") == ["required Observation.extension[0].extension[0].url"])
    }

    @Test func containedResources() throws {
        let patient = #"{"resourceType": "Patient", "id": "p1", "gender": "female"}"#
        #expect(try Self.check("{\(Self.observationHead), \"contained\": [\(patient)]}") == [])
        let broken = #"{"resourceType": "Patient", "id": "p 1", "gender": "f"}"#
        #expect(try Self.check("{\(Self.observationHead), \"contained\": [\(broken)]}")
                == ["value Observation.contained[0].id", "code-invalid Observation.contained[0].gender"])
        let nesting = #"{"resourceType": "Patient", "id": "p1", "contained": [{"resourceType": "Patient", "id": "p2"}]}"#
        #expect(try Self.check("{\(Self.observationHead), \"contained\": [\(nesting)]}") == ["invariant Observation.contained[0].contained"])
        // A type without definitions here is still checked for its id.
        #expect(try Self.check("{\(Self.observationHead), \"contained\": [{\"resourceType\": \"Condition\"}]}") == ["required Observation.contained[0].id"])
        #expect(try Self.check("{\(Self.observationHead), \"contained\": [{\"resourceType\": \"Thing\", \"id\": \"x\"}]}")
                == ["structure Observation.contained[0].resourceType"])
    }

    @Test func bundleEnvelopeOnly() throws {
        let entries = #"[{"fullUrl": "urn:uuid:6e8ac7c4-5f8b-4b4c-9bd2-3a1a4d3f0f6e", "resource": {"resourceType": "Observation", "foo": 1}}]"#
        #expect(try Self.check(#"{"resourceType": "Bundle", "type": "collection", "entry": \#(entries)}"#) == [])
        #expect(try Self.check(#"{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Thing"}}]}"#)
                == ["structure Bundle.entry[0].resource.resourceType", "required Bundle.type"])
        #expect(try Self.check(#"{"resourceType": "Bundle", "type": "searchset", "total": -1, "link": [{"relation": "self"}]}"#)
                == ["value Bundle.total", "required Bundle.link[0].url"])
    }

    @Test func narrative() throws {
        #expect(try Self.check(#"{"resourceType": "Patient", "text": {"status": "generated", "div": "<div>x</div>"}}"#) == ["value Patient.text.div"])
        #expect(try Self.check(#"{"resourceType": "Patient", "text": {"status": "generated"}}"#) == ["required Patient.text.div"])
    }

    @Test func choiceElements() throws {
        let medication = #"{"resourceType": "MedicationRequest", "status": "active", "intent": "order", "subject": {"reference": "Patient/1"}}"#
        #expect(try Self.check(medication) == ["required MedicationRequest.medication[x]"])
        #expect(try Self.check("{\(Self.observationHead), \"valueString\": \"a\", \"_valueBoolean\": {\"id\": \"b\"}}") == ["structure Observation.value[x]"])
        #expect(try Self.check("{\(Self.observationHead), \"valueString\": \"a\", \"_valueString\": {\"id\": \"b\"}}") == [])
        #expect(try Self.check("{\(Self.observationHead), \"value\": \"a\"}") == ["structure Observation.value"])
    }

    @Test func issuesAreCapped() throws {
        let unknown = (0..<150).map { "\"x\($0)\": 1" }.joined(separator: ", ")
        let issues = StructuralValidator.validate(try JSONParser.parse("{\(Self.observationHead), \(unknown)}"), expectedType: nil)
        #expect(issues.count == StructuralValidator.maximumIssueCount + 1)
        #expect(issues.prefix(StructuralValidator.maximumIssueCount).allSatisfy { $0.severity == .error && $0.code == .structure })
        #expect(issues.last?.severity == .warning)
        #expect(issues.last?.code == .tooCostly)
    }

    @Test func diagnosticsDoNotRepeatValues() throws {
        let secret = "Amy-Shaw-1987"
        let issues = StructuralValidator.validate(try JSONParser.parse(#"{"resourceType": "Patient", "birthDate": "\#(secret)", "gender": "\#(secret)"}"#), expectedType: nil)
        #expect(issues.count == 2)
        #expect(issues.allSatisfy { !$0.diagnostics.contains(secret) })
    }
}

extension String {
    fileprivate func trimmingTrailingSpace() -> String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
