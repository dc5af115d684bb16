import FHIRModels
import Hummingbird

/// The `application/x-www-form-urlencoded` body of `POST .../_search`.
enum FormBody {
    static let maximumBytes = 64 * 1024

    static func parameters(_ request: Request) async throws -> [(String, String)] {
        try ResourceBody.requireIdentityEncoding(request)
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: maximumBytes)
        } catch {
            throw FHIRError(status: 413, code: .tooLong, "the search form is larger than \(maximumBytes) bytes")
        }
        if buffer.readableBytes == 0 { return [] }
        guard contentType.hasPrefix("application/x-www-form-urlencoded") else {
            throw FHIRError(status: 415, code: .notSupported, "POST _search takes an application/x-www-form-urlencoded body")
        }
        return try QueryString.parse(String(buffer: buffer))
    }
}
