import FHIRModels
import Foundation

/// Loads conformance case files: `{"cases": [{"name", "request": {...}, "expect": {...}}]}`.
public enum ConformanceSuite {
    public struct InvalidCase: Error, CustomStringConvertible {
        public let description: String
    }

    public static func load(directory: String) throws -> [ConformanceCase] {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".json") }.sorted()
        var cases: [ConformanceCase] = []
        for file in files {
            guard let data = FileManager.default.contents(atPath: "\(directory)/\(file)") else { continue }
            let document: JSON
            do { document = try JSONParser.parse([UInt8](data)) } catch { throw InvalidCase(description: "\(file): not valid JSON (\(error.message))") }
            guard let list = document["cases"]?.arrayValue else { throw InvalidCase(description: "\(file): no 'cases' array") }
            for (index, item) in list.enumerated() {
                cases.append(try parse(item, file: file, index: index))
            }
        }
        return cases
    }

    static func parse(_ item: JSON, file: String, index: Int) throws -> ConformanceCase {
        let label = "\(file) cases[\(index)]"
        guard let name = item["name"]?.stringValue, let request = item["request"]?.objectValue, let expect = item["expect"]?.objectValue,
              let path = request["path"]?.stringValue else {
            throw InvalidCase(description: "\(label): needs name, request.path and expect.status")
        }
        let statuses: [Int]
        switch expect["status"] {
        case .number(let text)?: statuses = Int(text).map { [$0] } ?? []
        case .array(let items)?: statuses = items.compactMap { if case .number(let text) = $0 { Int(text) } else { nil } }
        default: statuses = []
        }
        guard !statuses.isEmpty else { throw InvalidCase(description: "\(label): expect.status must be a status or a list of statuses") }
        let token: ConformanceCase.Token
        switch request["token"] {
        case nil, .string("valid")?: token = .valid(scope: nil, claims: JSONObject())
        case .string("none")?, .null?: token = .none
        case .object(let spec)?:
            if let raw = spec["raw"]?.stringValue { token = .raw(raw) } else {
                token = .valid(scope: spec["scope"]?.stringValue, claims: spec["claims"]?.objectValue ?? JSONObject())
            }
        default: throw InvalidCase(description: "\(label): token must be \"valid\", \"none\" or an object")
        }
        let headers = (request["headers"]?.objectValue?.members ?? []).compactMap { member in member.value.stringValue.map { (member.key, $0) } }
        let expectedHeaders = (expect["headers"]?.objectValue?.members ?? []).compactMap { member in member.value.stringValue.map { (member.key, $0) } }
        func integer(_ key: String) -> Int? {
            if case .number(let text)? = expect[key] { return Int(text) }
            return nil
        }
        return ConformanceCase(
            file: file, name: name, requiresTypes: (item["requires_types"]?.arrayValue ?? []).compactMap(\.stringValue), method: request["method"]?.stringValue ?? "GET", path: path, token: token, headers: headers,
            body: request["body"]?.stringValue,
            expect: .init(statuses: statuses, issueCode: expect["issue_code"]?.stringValue, headers: expectedHeaders,
                          resourceType: expect["resource_type"]?.stringValue, bundleType: expect["bundle_type"]?.stringValue,
                          urlsUnderTenantBase: expect["urls_under_tenant_base"] == .bool(true),
                          minimumEntries: integer("min_entries"), maximumEntries: integer("max_entries"),
                          bodyExcludes: (expect["body_excludes"]?.arrayValue ?? []).compactMap(\.stringValue)))
    }
}
