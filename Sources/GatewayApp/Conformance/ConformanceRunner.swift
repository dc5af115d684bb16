import FHIRModels
import Foundation

/// Runs conformance cases through any transport: the in-process application in tests, HTTP for
/// `fhir-gateway conformance --base-url`.
public struct ConformanceRunner: Sendable {
    public struct Reply: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: String

        public init(status: Int, headers: [String: String], body: String) {
            self.status = status
            self.headers = headers
            self.body = body
        }
    }

    public struct Outcome: Sendable, CustomStringConvertible {
        public let name: String
        public let tenant: String
        public let failures: [String]
        public var passed: Bool { failures.isEmpty }
        public var description: String { "\(passed ? "PASS" : "FAIL") [\(tenant)] \(name)\(passed ? "" : ": " + failures.joined(separator: "; "))" }
    }

    public typealias Send = @Sendable (_ method: String, _ path: String, _ headers: [(String, String)], _ body: String?) async throws -> Reply
    /// Mints a valid token for a tenant with the given scope and final claim overrides.
    public typealias Mint = @Sendable (_ tenant: String, _ scope: String, _ claims: JSONObject) throws -> String

    let send: Send
    let mint: Mint
    /// Public base URL of the server (scheme, host, port), without the tenant.
    let publicBase: String
    let tenantClaims: [String: String]
    let tenantTypes: [String: [String]]

    public init(publicBase: String, tenantClaims: [String: String], tenantTypes: [String: [String]], send: @escaping Send, mint: @escaping Mint) {
        self.publicBase = publicBase
        self.tenantClaims = tenantClaims
        self.tenantTypes = tenantTypes
        self.send = send
        self.mint = mint
    }

    public func run(_ cases: [ConformanceCase], tenant: String, other: String) async throws -> [Outcome] {
        var values = ["{tenant}": tenant, "{other}": other, "{base}": "\(publicBase)/\(tenant)/r4"]
        let own = try await patients(of: tenant)
        values["{patient_id}"] = own[0]
        values["{patient_id_2}"] = own[1]
        values["{other_patient_id}"] = try await patients(of: other)[0]
        values["{practitioner_id}"] = try await firstID("Practitioner", of: tenant)
        var outcomes: [Outcome] = []
        for item in cases where item.requiresTypes.allSatisfy({ tenantTypes[tenant]?.contains($0) ?? false }) {
            outcomes.append(try await run(item, tenant: tenant, values: values))
        }
        return outcomes
    }

    private func firstID(_ type: String, of tenant: String) async throws -> String {
        let token = try mint(tenant, "system/*.rs", JSONObject())
        let reply = try await send("GET", "/\(tenant)/r4/\(type)?_count=1", [("Authorization", "Bearer \(token)")], nil)
        let bundle = try? JSONParser.parse(Array(reply.body.utf8))
        return bundle?["entry"]?.arrayValue?.first?["resource"]?["id"]?.stringValue ?? "00000000-0000-4000-8000-000000000000"
    }

    /// Two patients of a tenant (placeholders when it has fewer).
    private func patients(of tenant: String) async throws -> [String] {
        let token = try mint(tenant, "system/*.rs", JSONObject())
        let reply = try await send("GET", "/\(tenant)/r4/Patient?_count=2", [("Authorization", "Bearer \(token)")], nil)
        let bundle = try? JSONParser.parse(Array(reply.body.utf8))
        let ids = (bundle?["entry"]?.arrayValue ?? []).compactMap { $0["resource"]?["id"]?.stringValue }
        return ids + Array(repeating: "00000000-0000-4000-8000-000000000000", count: max(0, 2 - ids.count))
    }

    static func substitute(_ text: String, _ values: [String: String]) -> String {
        var result = text
        for (key, value) in values { result = result.replacingOccurrences(of: key, with: value) }
        return result
    }

    private func run(_ item: ConformanceCase, tenant: String, values: [String: String]) async throws -> Outcome {
        var headers = item.headers.map { ($0.0, Self.substitute($0.1, values)) }
        switch item.token {
        case .none: break
        case .raw(let raw): headers.append(("Authorization", "Bearer \(Self.substitute(raw, values))"))
        case .valid(let scope, let overrides):
            var claims = JSONObject()
            for member in overrides.members {
                let key = member.key == "$tenant_claim" ? (tenantClaims[tenant] ?? "tenant_id") : member.key
                if case .string(let text) = member.value { claims.append(key, .string(Self.substitute(text, values))) } else { claims.append(key, member.value) }
            }
            headers.append(("Authorization", "Bearer \(try mint(tenant, scope ?? "system/*.rs", claims))"))
        }
        let path = Self.substitute(item.path, values)
        let reply = try await send(item.method, path, headers, item.body.map { Self.substitute($0, values) })
        return Outcome(name: item.name, tenant: tenant, failures: check(item.expect, reply, base: "\(publicBase)/\(tenant)/r4", values: values))
    }

    private func check(_ expect: ConformanceCase.Expectation, _ reply: Reply, base: String, values: [String: String]) -> [String] {
        var failures: [String] = []
        if !expect.statuses.contains(reply.status) {
            failures.append("status \(reply.status), expected \(expect.statuses.map(String.init).joined(separator: " or "))")
        }
        for (name, prefix) in expect.headers {
            let value = reply.headers.first { $0.key.lowercased() == name.lowercased() }?.value
            if value?.hasPrefix(Self.substitute(prefix, values)) != true { failures.append("header \(name) is \(value ?? "absent")") }
        }
        for excluded in expect.bodyExcludes where reply.body.contains(Self.substitute(excluded, values)) {
            failures.append("body contains '\(Self.substitute(excluded, values))'")
        }
        guard reply.status != 304, reply.status != 204 else { return failures }
        guard let body = try? JSONParser.parse(Array(reply.body.utf8)) else {
            return failures + ["body is not JSON"]
        }
        if let code = expect.issueCode {
            let actual = body["issue"]?.arrayValue?.first?["code"]?.stringValue
            if body["resourceType"]?.stringValue != "OperationOutcome" || actual != code { failures.append("issue code \(actual ?? "none"), expected \(code)") }
        }
        if let type = expect.resourceType, body["resourceType"]?.stringValue != type { failures.append("resourceType is not \(type)") }
        if let type = expect.bundleType, body["type"]?.stringValue != type { failures.append("bundle type is not \(type)") }
        let entries = body["entry"]?.arrayValue ?? []
        let matches = entries.filter { $0["search"]?["mode"]?.stringValue != "outcome" }
        if let minimum = expect.minimumEntries, matches.count < minimum { failures.append("\(matches.count) entries, expected at least \(minimum)") }
        if let maximum = expect.maximumEntries, matches.count > maximum { failures.append("\(matches.count) entries, expected at most \(maximum)") }
        if expect.urlsUnderTenantBase {
            for entry in matches where entry["fullUrl"]?.stringValue?.hasPrefix(base + "/") != true {
                failures.append("fullUrl \(entry["fullUrl"]?.stringValue ?? "absent") is outside \(base)")
            }
            for link in body["link"]?.arrayValue ?? [] where link["url"]?.stringValue?.hasPrefix(base + "/") != true {
                failures.append("link \(link["url"]?.stringValue ?? "") is outside \(base)")
            }
        }
        return failures
    }
}
