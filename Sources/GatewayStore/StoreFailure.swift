import PostgresNIO
import SQLiteNIO

/// Tells an unavailable store (503, retry later) from every other failure (500, a defect).
public enum StoreFailure {
    /// True when `error` means the database could not be reached or is shutting down or overloaded.
    public static func isUnavailable(_ error: any Error) -> Bool {
        if error is CancellationError || error is PostgresGatewayPool.Unavailable { return true }
        if let wrapped = error as? PostgresTransactionError {
            return [wrapped.beginError, wrapped.closureError, wrapped.commitError].contains { $0.map(isUnavailable) ?? false }
        }
        // The pool's own error type lives in a module PostgresNIO does not re-export.
        if String(describing: type(of: error)) == "ConnectionPoolError" { return true }
        if let failure = error as? PSQLError {
            switch failure.code {
            case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed,
                 .sslUnsupported, .failedToAddSSLHandler, .queryCancelled:
                return true
            case .server:
                // SQLSTATE classes 08 (connection), 53 (resources), 57 (operator intervention: shutdown, cannot connect now).
                let state = failure.serverInfo?[.sqlState] ?? ""
                return state.hasPrefix("08") || state.hasPrefix("53") || state.hasPrefix("57")
            default:
                return false
            }
        }
        if let failure = error as? SQLiteError {
            switch failure.reason {
            case .busy, .locked, .cantOpen, .ioError, .full, .busyTimeout, .busyInRecovery, .busyInSnapshot: return true
            default: return false
            }
        }
        return false
    }
}
