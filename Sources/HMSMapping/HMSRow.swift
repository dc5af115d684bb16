/// One HMS row as the stores hand it to the mappers: timestamps as epoch seconds,
/// dates as `YYYY-MM-DD`, UUIDs as lowercase text, booleans as booleans.
public struct HMSRow: Sendable {
    public enum Value: Sendable, Equatable {
        case text(String)
        case integer(Int64)
        case bool(Bool)
        case null
    }

    public var values: [String: Value]

    public init(values: [String: Value] = [:]) { self.values = values }

    public func string(_ column: String) -> String? {
        switch values[column] {
        case .text(let text)?: return text.isEmpty ? nil : text
        case .integer(let number)?: return String(number)
        default: return nil
        }
    }

    public func integer(_ column: String) -> Int64? {
        switch values[column] {
        case .integer(let number)?: return number
        case .text(let text)?: return Int64(text)
        default: return nil
        }
    }

    public func bool(_ column: String) -> Bool? {
        switch values[column] {
        case .bool(let value)?: return value
        case .integer(let number)?: return number != 0
        default: return nil
        }
    }
}
