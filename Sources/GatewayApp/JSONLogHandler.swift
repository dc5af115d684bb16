import FHIRModels
import Foundation
import Logging

/// Writes one JSON object per line to standard output (`serve`), or to standard error for the
/// commands whose standard output is their result (tokens, documents, exports). Callers put only
/// PHI-free metadata in.
public struct JSONLogHandler: LogHandler {
    let label: String
    let toStandardError: Bool
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]

    public init(label: String, toStandardError: Bool = false) {
        self.label = label
        self.toStandardError = toStandardError
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(level: Logger.Level, message: Logger.Message, metadata eventMetadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        var object = JSONObject()
        object.append("ts", CivilTime.isoInstant(epochSeconds: Int64(Date().timeIntervalSince1970)))
        object.append("level", level.rawValue)
        object.append("msg", message.description)
        let merged = metadata.merging(eventMetadata ?? [:]) { $1 }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) { object.append(key, Self.json(value)) }
        var bytes = JSON.object(object).serialized
        bytes.append(0x0A)
        (toStandardError ? FileHandle.standardError : FileHandle.standardOutput).write(Data(bytes))
    }

    static func json(_ value: Logger.Metadata.Value) -> JSON {
        switch value {
        case .string(let text): .string(text)
        case .stringConvertible(let convertible): .string(convertible.description)
        case .array(let values): .array(values.map(json))
        case .dictionary(let dictionary): .object(JSONObject(dictionary.sorted { $0.key < $1.key }.map { ($0.key, json($0.value)) }))
        }
    }
}

extension JSONObject {
    init(_ pairs: [(String, JSON)]) {
        self.init()
        for (key, value) in pairs { append(key, value) }
    }
}
