import Foundation
import GatewayApp
import HummingbirdTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Slow or greedy clients over real sockets: a request must arrive whole within the read timeout,
/// idle connections are closed, and one address holds a bounded number of connections.
@Suite struct ConnectionLimitTests {
    /// A blocking TCP client to 127.0.0.1, enough to misbehave on purpose.
    final class RawSocket {
        let descriptor: Int32

        init?(port: Int) {
            descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var timeout = timeval(tv_sec: 20, tv_usec: 0)
            setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else { close(descriptor); return nil }
        }

        deinit { close(descriptor) }

        func send(_ text: String) { _ = text.withCString { write(descriptor, $0, strlen($0)) } }

        func readLine() -> String? {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = read(descriptor, &buffer, buffer.count)
            guard count > 0 else { return nil }
            return String(decoding: buffer[0..<count], as: UTF8.self)
        }

        /// True when the server closed the connection (a read returns end of file or reset) within the socket timeout.
        func isClosedByServer() -> Bool {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = read(descriptor, &buffer, buffer.count)
                if count == 0 { return true }
                if count < 0 { return errno == ECONNRESET }
            }
        }
    }

    @Test func slowAndIdleClientsAreDisconnected() async throws {
        let fixture = try await GatewayFixture.shared(.sqlite)
        var configuration = fixture.configuration
        configuration.server.requestReadTimeoutSeconds = 1
        let application = try await GatewayApplication.build(configuration: configuration, repository: fixture.repository, logger: testLogger)
        try await application.test(.live) { client in
            let port = try #require(client.port)
            let trickling = try #require(RawSocket(port: port))
            trickling.send("GET /healthz HTTP/1.1\r\nHost: x\r\n")
            try await Task.sleep(for: .milliseconds(400))
            trickling.send("X-Slow: 1\r\n")
            #expect(trickling.isClosedByServer(), "headers trickled past the read timeout")

            let short = try #require(RawSocket(port: port))
            short.send("POST /acme/r4/Observation HTTP/1.1\r\nHost: x\r\nContent-Type: application/fhir+json\r\nContent-Length: 100\r\n\r\n{")
            #expect(short.isClosedByServer(), "a body shorter than its Content-Length does not hold the connection")

            let idle = try #require(RawSocket(port: port))
            #expect(idle.isClosedByServer(), "an idle connection is closed")
        }
    }

    @Test func oneAddressHoldsBoundedConnections() async throws {
        let fixture = try await GatewayFixture.shared(.sqlite)
        var configuration = fixture.configuration
        configuration.server.requestReadTimeoutSeconds = 60
        configuration.server.maximumConnectionsPerClient = 4
        let application = try await GatewayApplication.build(configuration: configuration, repository: fixture.repository, logger: testLogger)
        try await application.test(.live) { client in
            let port = try #require(client.port)
            // Connections answered one by one until the bound refuses one; the test client may hold
            // one connection of its own, so three or four of ours are served.
            var held: [RawSocket] = []
            var refused = false
            while !refused, held.count < 6 {
                let socket = try #require(RawSocket(port: port))
                socket.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                if socket.readLine()?.hasPrefix("HTTP/1.1 200") == true { held.append(socket) } else { refused = true }
            }
            #expect(refused && (3...4).contains(held.count), "served \(held.count) connections before refusing one")
            let extra = try #require(RawSocket(port: port))
            extra.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(extra.isClosedByServer(), "still refused while the others are held")
            held.removeAll()
            var served = false
            for _ in 0..<50 where !served {
                try await Task.sleep(for: .milliseconds(200))
                if let fresh = RawSocket(port: port) {
                    fresh.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                    served = fresh.readLine()?.hasPrefix("HTTP/1.1 200") == true
                }
            }
            #expect(served, "once the held connections close, the address is served again")
        }
    }
}
