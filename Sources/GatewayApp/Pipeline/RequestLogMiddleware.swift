import FHIRModels
import Foundation
import HTTPTypes
import Hummingbird

/// Outermost layer: the request id, one PHI-free log line and the metrics of every answer, and the
/// one place where an error becomes an OperationOutcome for requests no inner layer answered.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let services: GatewayServices

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        services.metrics.started()
        let requestID = Self.requestID(request)
        context.state.update {
            $0.requestID = requestID
            $0.method = request.method.rawValue
        }
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = FHIRResponse.error(.classify(error, logger: services.logger, requestID: requestID))
        }
        response.headers[.requestID] = requestID
        if request.method == .head { response = response.createHeadResponse() }
        let elapsed = ContinuousClock.now - started
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        let record = context.state.snapshot
        record.log(to: services.logger, status: Int(response.status.code), durationMilliseconds: milliseconds)
        services.metrics.finished(record: record, status: Int(response.status.code), seconds: milliseconds / 1000)
        return response
    }

    /// Accepts a caller's request id if it is short and plain; otherwise makes one.
    static func requestID(_ request: Request) -> String {
        if let supplied = request.headers[.requestID], (1...128).contains(supplied.utf8.count),
           supplied.utf8.allSatisfy(isRequestIDByte) {
            return supplied
        }
        return UUID().lowercasedString
    }

    private static func isRequestIDByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"): true
        default: false
        }
    }
}
