import FHIRModels
import GatewayAuth
import GatewayStore
import Logging

extension FHIRError {
    /// The answer for any error a request raised: FHIR errors as they are, 503 only for an
    /// unavailable store, 500 for everything else (a defect: logged by type, never shown).
    static func classify(_ error: any Error, logger: Logger, requestID: String? = nil) -> FHIRError {
        if let error = error as? FHIRError { return error }
        if let failure = error as? AuthFailure { return failure.fhirError }
        var metadata: Logger.Metadata = ["error.type": .string(String(describing: type(of: error)))]
        if let requestID { metadata["request_id"] = .string(requestID) }
        if StoreFailure.isUnavailable(error) {
            logger.warning("store unavailable", metadata: metadata)
            return .serviceUnavailable
        }
        logger.error("request failed", metadata: metadata)
        var failure = FHIRError.internalError
        if let requestID { failure.issues[0].diagnostics += " (request id \(requestID))" }
        return failure
    }
}
