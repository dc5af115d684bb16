import NIOCore
import NIOHTTPTypes
import Synchronization

/// Per-connection limits the HTTP server does not enforce by itself:
/// - a request (head and body) must arrive within `requestReadTimeout` of the connection opening or
///   of the previous response, so clients that trickle header lines or send a `Content-Length` larger
///   than their body are disconnected;
/// - one client address holds at most `maximumPerClient` connections at once.
/// Idle keep-alive connections are closed by the server's own idle timeout.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// Open connections by client address, shared by every connection of one server.
    final class Registry: Sendable {
        let maximumPerClient: Int
        private let counts = Mutex<[String: Int]>([:])

        init(maximumPerClient: Int) { self.maximumPerClient = maximumPerClient }

        func open(_ address: String) -> Bool {
            counts.withLock { counts in
                let next = (counts[address] ?? 0) + 1
                guard next <= maximumPerClient else { return false }
                counts[address] = next
                return true
            }
        }

        func close(_ address: String) {
            counts.withLock { counts in
                let remaining = (counts[address] ?? 1) - 1
                counts[address] = remaining > 0 ? remaining : nil
            }
        }

        var openConnections: Int { counts.withLock { $0.values.reduce(0, +) } }
    }

    private let registry: Registry
    private let requestReadTimeout: TimeAmount
    private var deadline: Scheduled<Void>?
    private var address: String?
    private var awaitingRequest = true

    init(registry: Registry, requestReadTimeout: TimeAmount) {
        self.registry = registry
        self.requestReadTimeout = requestReadTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { opened(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        if address == nil { opened(context) }
        context.fireChannelActive()
    }

    private func opened(_ context: ChannelHandlerContext) {
        let key = context.channel.remoteAddress?.ipAddress ?? "unknown"
        guard registry.open(key) else {
            context.close(promise: nil)
            return
        }
        address = key
        armDeadline(context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        if let address { registry.close(address) }
        address = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        if let address { registry.close(address) }
        address = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = unwrapInboundIn(data) {
            awaitingRequest = false
            deadline?.cancel()
            deadline = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            awaitingRequest = true
            armDeadline(context)
        }
        context.write(data, promise: promise)
    }

    /// The next request must be read in full before this fires (headers trickled line by line, a
    /// body shorter than its `Content-Length` and an idle keep-alive connection all end here).
    private func armDeadline(_ context: ChannelHandlerContext) {
        deadline?.cancel()
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: requestReadTimeout) { [weak self] in
            guard let self, self.awaitingRequest else { return }
            channel.close(promise: nil)
        }
    }
}
