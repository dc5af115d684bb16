import FHIRModels
import HTTPTypes
import Hummingbird

/// Reads a posted FHIR resource: checks the media type, the size before reading it whole, and
/// parses strictly (duplicate keys, bounded depth), keeping numbers exactly as written.
enum ResourceBody {
    /// Largest accepted body.
    static let maximumBytes = 1 << 20
    /// Deepest accepted JSON nesting.
    static let maximumDepth = 32

    /// Encoded bodies are refused rather than misread as plain JSON (decoding is not offered).
    static func requireIdentityEncoding(_ request: Request) throws(FHIRError) {
        for value in request.headers[values: .contentEncoding] + request.headers[values: .transferEncoding] {
            for coding in value.split(separator: ",") {
                let name = coding.trimmingCharacters(in: [" ", "\t"]).lowercased()
                guard name.isEmpty || name == "identity" || name == "chunked" else {
                    throw FHIRError(status: 415, code: .notSupported, "request bodies must not be encoded ('\(name)'); send plain application/fhir+json")
                }
            }
        }
    }

    static func read(_ request: Request) async throws -> (JSON, [UInt8]) {
        try requireIdentityEncoding(request)
        let mediaType = request.headers[.contentType]?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard let mediaType, ["application/fhir+json", "application/json", "application/json+fhir"].contains(mediaType) else {
            throw FHIRError(status: 415, code: .notSupported, "the body must be application/fhir+json")
        }
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > maximumBytes {
            throw FHIRError(status: 413, code: .tooLong, "the body is larger than \(maximumBytes) bytes")
        }
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: maximumBytes)
        } catch {
            throw FHIRError(status: 413, code: .tooLong, "the body is larger than \(maximumBytes) bytes")
        }
        let bytes = Array(buffer.readableBytesView)
        do {
            return (try JSONParser.parse(bytes, maximumDepth: maximumDepth), bytes)
        } catch {
            throw FHIRError.badRequest("the body is not valid JSON: \(error.message) at byte \(error.offset)", code: .structure)
        }
    }
}

private extension Substring {
    func trimmingCharacters(in set: Set<Character>) -> String {
        var text = self
        while let first = text.first, set.contains(first) { text = text.dropFirst() }
        while let last = text.last, set.contains(last) { text = text.dropLast() }
        return String(text)
    }
}

private extension Set where Element == Character {
    static let whitespaces: Set<Character> = [" ", "\t"]
}
