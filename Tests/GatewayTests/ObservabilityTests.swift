import Foundation
import GatewayApp
import GatewayConfig
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Metrics on their own port and request tracing: spans, W3C trace context, and no PHI in either.
@Suite struct ObservabilityTests {
    static let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let callerSpanID = "00f067aa0ba902b7"
    static var traceparent: String { "00-\(traceID)-\(callerSpanID)-01" }

    @Test func aMetricsPortServesTheSeriesThereAndNotOnTheMainPort() async throws {
        let fixture = try await GatewayFixture.shared(.sqlite)
        var configuration = fixture.configuration
        let metricsPort = try #require(Self.freePort())
        configuration.server.metricsPort = metricsPort
        let application = try await GatewayApplication.build(configuration: configuration, repository: fixture.repository, logger: testLogger)
        let patient = GatewayFixture.patientID("acme", 4)
        try await application.test(.live) { client in
            expectStatus(try await client.get("/acme/r4/Patient/\(patient)", token: fixture.token("acme")), 200)
            let onMain = try await client.get("/metrics")
            expectStatus(onMain, 404, "the main listener does not serve metrics when a metrics port is set")
            #expect(!onMain.body.contains("fhir_gateway_"))
            let scraped = try #require(await Self.fetch(port: metricsPort, path: "/metrics"), "the metrics listener answers")
            #expect(scraped.hasPrefix("HTTP/1.1 200"))
            #expect(scraped.contains(#"fhir_gateway_requests_total{tenant="acme",interaction="read",resource_type="Patient",status_class="2xx"} 1"#))
            #expect(scraped.contains("# TYPE fhir_gateway_request_duration_seconds histogram"))
            #expect(scraped.contains("fhir_gateway_db_pool_max_connections"))
            #expect(!scraped.contains(patient))
            let elsewhere = try #require(await Self.fetch(port: metricsPort, path: "/acme/r4/Patient/\(patient)"))
            #expect(elsewhere.hasPrefix("HTTP/1.1 404"), "the metrics listener serves nothing else")
        }
    }

    @Test func theSeriesKeepTheirNamesTypesAndBuckets() async throws {
        let fixture = try await GatewayFixture.shared(.sqlite)
        try await fixture.withClient { client in
            expectStatus(try await client.get("/acme/r4/NoSuchType/1", token: fixture.token("acme")), 404)
            let body = try await client.get("/metrics").body
            for (name, type) in [("fhir_gateway_requests_total", "counter"), ("fhir_gateway_request_duration_seconds", "histogram"),
                                 ("fhir_gateway_requests_in_flight", "gauge"), ("fhir_gateway_db_calls_in_flight", "gauge"),
                                 ("fhir_gateway_db_pool_max_connections", "gauge")] {
                #expect(body.contains("# TYPE \(name) \(type)\n"), "\(name)")
                #expect(body.contains("# HELP \(name) "), "\(name)")
            }
            #expect(body.contains(#"resource_type="other""#), "types the gateway does not know are bucketed")
            #expect(!body.contains("NoSuchType"))
            for bound in ["0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "+Inf"] {
                #expect(body.contains(#"le="\#(bound)"} "#), "bucket \(bound)")
            }
        }
    }

    @Test(arguments: StoreKind.available)
    func aReadIsAServerSpanWithChildSpansInTheCallersTrace(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let tracer = RecordingTracer()
        let logs = CapturedLogs()
        let application = try await GatewayApplication.build(configuration: fixture.configuration, repository: fixture.repository,
                                                             logger: logs.logger, tracer: tracer)
        let patient = GatewayFixture.patientID("acme", 3)
        let token = fixture.token("acme")
        try await application.test(.router) { client in
            expectStatus(try await client.get("/acme/r4/Patient/\(patient)", token: token, headers: ["traceparent": Self.traceparent]), 200)
        }
        let spans = tracer.finished
        let server = try #require(spans.first { $0.kind == .server })
        #expect(server.name == "GET /{tenant}/r4/Patient/{id}")
        #expect(server.traceID == Self.traceID && server.parentSpanID == Self.callerSpanID, "the caller's traceparent is the parent")
        #expect(server.attributes["tenant"] == "acme")
        #expect(server.attributes["fhir.interaction"] == "read")
        #expect(server.attributes["fhir.type"] == "Patient")
        #expect(server.attributes["http.response.status_code"] == "200")
        #expect(server.attributes["http.route"] == "/{tenant}/r4/Patient/{id}")
        let children = spans.filter { $0.parentSpanID == server.spanID }
        #expect(Set(children.map(\.name)).isSuperset(of: ["token.verify", "db.query", "audit.write"]), "\(children.map(\.name))")
        let query = try #require(children.first { $0.name == "db.query" })
        #expect(query.kind == .client)
        #expect(query.attributes["db.system"] == (store == .sqlite ? "sqlite" : "postgresql"))
        #expect(query.attributes["db.operation"] == "SELECT")
        #expect(spans.allSatisfy { $0.traceID == Self.traceID })
        for span in spans {
            let texts = [span.name] + span.attributes.keys + span.attributes.values
            #expect(!texts.contains { $0.contains(patient) || $0.contains(token) || $0.contains("SELECT ") }, "\(span.name): \(span.attributes)")
        }
        let line = try #require(logs.requestLines.first)
        #expect(line["trace_id"] == Self.traceID, "the request log line names the trace")
    }

    @Test func spanNamesAndAttributesNeverCarryIdsOrQueryValues() async throws {
        let fixture = try await GatewayFixture.shared(.sqlite)
        let tracer = RecordingTracer()
        let application = try await GatewayApplication.build(configuration: fixture.configuration, repository: fixture.repository,
                                                             logger: testLogger, tracer: tracer)
        let patient = GatewayFixture.patientID("acme", 5)
        let token = fixture.token("acme")
        try await application.test(.router) { client in
            _ = try await client.get("/acme/r4/Patient?family=smith&_id=\(patient)", token: token)
            _ = try await client.get("/acme/r4/Patient/\(patient)/_history/1", token: token)
            _ = try await client.get("/acme/r4/Encounter?patient=\(patient)", token: token)
            _ = try await client.get("/acme/r4/Secret-\(patient)/\(patient)", token: token)
            _ = try await client.get("/acme/r4/Patient/\(patient)", token: "garbage-\(patient)")
            _ = try await client.send("/acme/r4/Patient/\(patient)", method: .init("PATCH-\(patient)")!, token: token)
        }
        let spans = tracer.finished
        #expect(spans.filter { $0.kind == .server }.count == 6)
        #expect(Set(spans.filter { $0.kind == .server }.map(\.name)).isSubset(of: [
            "GET /{tenant}/r4/Patient", "GET /{tenant}/r4/Patient/{id}/_history/{vid}", "GET /{tenant}/r4/Encounter",
            "GET /{tenant}/r4/{type}/{id}", "GET /{tenant}/r4/Patient/{id}", "_OTHER /{tenant}/r4/Patient/{id}",
        ]), "\(spans.map(\.name))")
        for span in spans {
            let texts = [span.name] + span.attributes.keys + span.attributes.values
            #expect(!texts.contains { $0.contains(patient) || $0.lowercased().contains("smith") || $0.contains("Secret") || $0.contains("garbage") },
                    "\(span.name): \(span.attributes)")
        }
    }

    @Test func requestLogLinesNeverCarryWhatTheClientTyped() async throws {
        let fixture = try await GatewayFixture.shared(.sqlite)
        let logs = CapturedLogs()
        let application = try await GatewayApplication.build(configuration: fixture.configuration, repository: fixture.repository, logger: logs.logger)
        let patient = GatewayFixture.patientID("acme", 5)
        try await application.test(.router) { client in
            _ = try await client.get("/acme/r4/JaneSmith-\(patient)/\(patient)", token: fixture.token("acme"))
            _ = try await client.get("/acme/r4/Patient/\(patient)", token: fixture.token("acme"))
        }
        let lines = logs.requestLines
        #expect(lines.count == 2)
        #expect(lines.first?["fhir.type"] == "other", "an unknown type is logged as other")
        #expect(lines.last?["fhir.type"] == "Patient")
        for line in lines {
            #expect(!line.values.contains { $0.contains(patient) || $0.contains("JaneSmith") }, "\(line)")
        }
    }

    @Test func withoutATracerTheCallersTraceIdIsStillLogged() async throws {
        let fixture = try await GatewayFixture.shared(.sqlite)
        let logs = CapturedLogs()
        let application = try await GatewayApplication.build(configuration: fixture.configuration, repository: fixture.repository, logger: logs.logger)
        try await application.test(.router) { client in
            expectStatus(try await client.get("/healthz", headers: ["traceparent": Self.traceparent]), 200)
            expectStatus(try await client.get("/healthz", headers: ["traceparent": "00-not-a-trace-01"]), 200)
            expectStatus(try await client.get("/healthz"), 200)
        }
        let lines = logs.requestLines
        #expect(lines.count == 3)
        #expect(lines.first?["trace_id"] == Self.traceID)
        #expect(lines.dropFirst().allSatisfy { $0["trace_id"] == nil }, "an invalid or absent traceparent logs no trace id")
    }

    /// The real exporter: swift-otel's tracer sends the request's spans over OTLP/HTTP (protobuf) to
    /// a collector (here a stub that keeps what it receives), in the caller's trace, without PHI.
    @Test func theOpenTelemetryExporterSendsTheSpansOverOTLP() async throws {
        let fixture = try await GatewayFixture.shared(.sqlite)
        let received = Mutex<[[UInt8]]>([])
        let router = Router()
        router.post("/v1/traces") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 16 << 20)
            received.withLock { $0.append(Array(buffer: body)) }
            return Response(status: .ok, headers: [.contentType: "application/x-protobuf"])
        }
        let collector = Application(router: router, logger: testLogger)
        let patient = GatewayFixture.patientID("acme", 6)
        let token = fixture.token("acme")
        try await collector.test(.live) { collectorClient in
            let port = try #require(collectorClient.port)
            var configuration = fixture.configuration
            configuration.tracing = .init(otlpEndpoint: "http://localhost:\(port)/v1/traces", serviceName: "gateway-under-test")
            let application = try await GatewayApplication.build(configuration: configuration, repository: fixture.repository, logger: testLogger)
            try await application.test(.live) { client in
                expectStatus(try await client.get("/acme/r4/Patient/\(patient)", token: token, headers: ["traceparent": Self.traceparent]), 200)
            }
            // Stopping the application flushes the batch of spans.
            for _ in 0..<100 where received.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(100)) }
        }
        let exported = received.withLock { $0.flatMap { $0 } }
        let traceBytes = stride(from: 0, to: Self.traceID.count, by: 2).map { offset -> UInt8 in
            let start = Self.traceID.index(Self.traceID.startIndex, offsetBy: offset)
            return UInt8(Self.traceID[start..<Self.traceID.index(start, offsetBy: 2)], radix: 16)!
        }
        #expect(!exported.isEmpty, "the collector received spans")
        #expect(Self.contains(exported, traceBytes), "the exported spans are in the caller's trace")
        for text in ["gateway-under-test", "GET /{tenant}/r4/Patient/{id}", "token.verify", "db.query", "audit.write"] {
            #expect(Self.contains(exported, Array(text.utf8)), "\(text) exported")
        }
        for secret in [patient, token, "SELECT "] {
            #expect(!Self.contains(exported, Array(secret.utf8)), "nothing of the request's data is exported")
        }
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains { start in haystack[start..<(start + needle.count)].elementsEqual(needle) }
    }

    // MARK: Helpers

    /// A port nothing listens on now (bound and released at once).
    static func freePort() -> Int? {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) } }
        guard bound == 0 else { return nil }
        let named = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) } }
        guard named == 0 else { return nil }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The whole raw HTTP/1.1 answer to `GET path` on 127.0.0.1:`port`, retrying while the listener starts.
    static func fetch(port: Int, path: String) async -> String? {
        for _ in 0..<50 {
            if let socket = ConnectionLimitTests.RawSocket(port: port) {
                socket.send("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                var answer = ""
                while let chunk = socket.readLine() { answer += chunk }
                return answer
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }
}

/// Log lines kept in memory, for checking what the request log writes.
final class CapturedLogs: Sendable {
    private let lines = Mutex<[(message: String, metadata: [String: String])]>([])

    var logger: Logger {
        Logger(label: "captured") { _ in Handler(sink: self) }
    }

    /// The metadata of each `request` line, values as text.
    var requestLines: [[String: String]] { lines.withLock { $0.filter { $0.message == "request" }.map(\.metadata) } }

    /// The metadata of each line with `message`.
    func lines(_ message: String) -> [[String: String]] { lines.withLock { $0.filter { $0.message == message }.map(\.metadata) } }

    fileprivate func append(_ message: String, _ metadata: Logger.Metadata) {
        var texts: [String: String] = [:]
        for (key, value) in metadata { texts[key] = "\(value)" }
        lines.withLock { $0.append((message, texts)) }
    }

    struct Handler: LogHandler {
        let sink: CapturedLogs
        var logLevel: Logger.Level = .info
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
            sink.append(message.description, metadata.merging(extra ?? [:]) { $1 })
        }
    }
}
