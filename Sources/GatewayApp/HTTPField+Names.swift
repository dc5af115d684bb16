import HTTPTypes

/// Header names the gateway reads or writes. Each is a constant, valid token, so the failable
/// initializer cannot fail; this is the only place where its result is force-unwrapped.
extension HTTPField.Name {
    static let requestID = HTTPField.Name("X-Request-Id")!
    /// W3C Trace Context.
    static let traceparent = HTTPField.Name("traceparent")!
    static let tracestate = HTTPField.Name("tracestate")!
    static let origin = HTTPField.Name("Origin")!
    static let prefer = HTTPField.Name("Prefer")!
    static let ifNoneExist = HTTPField.Name("If-None-Exist")!
    static let vary = HTTPField.Name("Vary")!
    static let accessControlAllowOrigin = HTTPField.Name("Access-Control-Allow-Origin")!
    static let accessControlAllowMethods = HTTPField.Name("Access-Control-Allow-Methods")!
    static let accessControlAllowHeaders = HTTPField.Name("Access-Control-Allow-Headers")!
    static let accessControlMaxAge = HTTPField.Name("Access-Control-Max-Age")!
    static let accessControlExposeHeaders = HTTPField.Name("Access-Control-Expose-Headers")!
}
