import FHIRModels
import Foundation
import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Writes `Date` from the clock when each response head leaves. Hummingbird's own value is cached
/// and refreshed once a second, so it could be earlier than a `Last-Modified` stamped in the same
/// second, which RFC 9110 §8.8.2.1 forbids.
final class DateHeaderWriter: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .head(var head) = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        head.headerFields[.date] = CivilTime.httpDate(epochSeconds: Int64(Date().timeIntervalSince1970))
        context.write(wrapOutboundOut(.head(head)), promise: promise)
    }
}
