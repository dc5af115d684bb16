import FHIRModels
import HTTPTypes
import Hummingbird

/// Builds HTTP responses from JSON resources and errors.
extension Response {
    /// The same response with a plain-text body.
    func withBody(_ text: String) -> Response {
        var response = self
        response.body = .init(byteBuffer: ByteBuffer(string: text))
        return response
    }
}

enum FHIRResponse {
    static func json(_ value: JSON, status: HTTPResponse.Status = .ok, contentType: String = ContentNegotiation.fhirJSON,
                     headers extra: [(String, String)] = []) -> Response {
        var buffer = ByteBuffer()
        let serialized = value.serialized
        buffer.reserveCapacity(serialized.count)
        buffer.writeBytes(serialized)
        return bytes(buffer, status: status, contentType: contentType, headers: extra)
    }

    static func bytes(_ buffer: ByteBuffer, status: HTTPResponse.Status = .ok, contentType: String, headers extra: [(String, String)] = []) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        for (name, value) in extra {
            if let field = HTTPField.Name(name) { headers.append(HTTPField(name: field, value: value)) }
        }
        return Response(status: status, headers: headers, body: .init(byteBuffer: buffer))
    }

    static func error(_ error: FHIRError) -> Response {
        json(error.outcome, status: HTTPResponse.Status(code: error.status), headers: error.headers)
    }

    static func notModified(headers extra: [(String, String)]) -> Response {
        var headers = HTTPFields()
        for (name, value) in extra {
            if let field = HTTPField.Name(name) { headers.append(HTTPField(name: field, value: value)) }
        }
        return Response(status: .notModified, headers: headers)
    }
}
