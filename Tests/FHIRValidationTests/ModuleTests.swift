import Testing
@testable import FHIRValidation
@Test func validationModuleBuilds() { #expect(String(describing: FHIRValidationModule.self) == "FHIRValidationModule") }
