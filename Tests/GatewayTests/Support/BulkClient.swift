import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// A Bulk Data client as an EHR runs one: kick off, poll with back-off honouring `Retry-After`,
/// download every file. Works on the in-process client (URLs are made relative to the public base).
struct BulkClient {
    let client: any TestClientProtocol
    let token: String

    static let asyncHeaders = ["Prefer": "respond-async", "Accept": "application/fhir+json"]

    func kickOff(_ path: String, method: HTTPRequest.Method = .get, body: String? = nil, headers: [String: String] = BulkClient.asyncHeaders) async throws -> TestResponse {
        var headers = headers
        if body != nil { headers["Content-Type"] = "application/fhir+json" }
        return try await client.send(path, method: method, token: token, headers: headers, body: body)
    }

    /// Polls `statusURL` until the manifest (200), waiting as `Retry-After` says; the final answer.
    func finish(_ statusURL: String, limit: Duration = .seconds(60)) async throws -> TestResponse {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < limit {
            let answer = try await client.get(relative(statusURL), token: token)
            guard answer.status == 202 || answer.status == 429 else { return answer }
            let seconds = Int(answer.header("Retry-After") ?? "1") ?? 1
            try await Task.sleep(for: .seconds(max(1, min(seconds, 5))))
        }
        Issue.record("the export did not finish within \(limit)")
        return try await client.get(relative(statusURL), token: token)
    }

    /// The lines of one output file.
    func download(_ url: String) async throws -> (TestResponse, [String]) {
        let answer = try await client.get(relative(url), token: token, headers: ["Accept": "application/fhir+ndjson"])
        return (answer, answer.body.split(separator: "\n").map(String.init))
    }

    /// Kicks off, finishes and downloads: the manifest and each type's resources as dictionaries.
    func export(_ path: String) async throws -> (manifest: [String: Any], files: [(type: String, lines: [String])]) {
        let kickOff = try await kickOff(path)
        expectStatus(kickOff, 202, "\(kickOff.body)")
        let location = try #require(kickOff.header("Content-Location"))
        let done = try await finish(location)
        expectStatus(done, 200, "\(done.body)")
        var files: [(String, [String])] = []
        for output in done.json["output"] as? [[String: Any]] ?? [] {
            let (answer, lines) = try await download(try #require(output["url"] as? String))
            expectStatus(answer, 200)
            files.append((try #require(output["type"] as? String), lines))
        }
        return (done.json, files)
    }
}

extension String {
    var jsonObject: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(utf8))) as? [String: Any] ?? [:] }
}
