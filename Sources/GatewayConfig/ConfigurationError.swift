/// A configuration problem, naming the field at fault.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public let field: String
    public let problem: String

    public init(field: String, _ problem: String) {
        self.field = field
        self.problem = problem
    }

    public var description: String { "configuration error at '\(field)': \(problem)" }
}
