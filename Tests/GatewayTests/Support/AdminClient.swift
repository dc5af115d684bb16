import FHIRModels
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Talks to an admin API listener over real HTTP (it runs on a port of its own).
struct AdminClient: Sendable {
    let port: Int
    let token: String?

    func send(_ method: String, _ path: String, body: String? = nil, contentType: String = "application/json",
              token override: String?? = nil, headers extra: [String: String] = [:]) async throws -> TestResponse {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.timeoutInterval = 30
        if let token = override ?? token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        for (name, value) in extra { request.setValue(value, forHTTPHeaderField: name) }
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        var headers = HTTPFieldsBuilder()
        for (name, value) in http.allHeaderFields { headers.add("\(name)", "\(value)") }
        return TestResponse(status: http.statusCode, headers: headers.fields, body: String(decoding: data, as: UTF8.self))
    }

    /// Waits until the listener accepts connections.
    func waitUntilListening() async throws {
        for _ in 0..<100 {
            if (try? await send("GET", "/admin/tenants", token: .some(nil))) != nil { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw CancellationError()
    }
}

import HTTPTypes

struct HTTPFieldsBuilder {
    var fields = HTTPFields()
    mutating func add(_ name: String, _ value: String) {
        if let field = HTTPField.Name(name) { fields.append(HTTPField(name: field, value: value)) }
    }
}
