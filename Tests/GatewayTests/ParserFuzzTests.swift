import FHIRModels
import FHIRSearch
import FHIRValidation
import GatewayConfig
import Foundation
@testable import GatewayApp
@testable import GatewayAuth
@testable import GatewayStore
import Testing
import W3CTraceContext

/// Generator-driven fuzzing of every parser of client input: seeds (the corpus below) mutated with
/// the values that broke parsers before (huge digit runs, NUL, separators, signs, exponents). A trap
/// stops the test process, so any crash fails CI; each target also checks an invariant of its output.
/// Each target runs for `FHIR_FUZZ_SECONDS` (default 1 s; CI sets it) with a fixed seed per run that
/// is printed on failure, so a finding can be replayed and kept as a regression case.
@Suite struct ParserFuzzTests {
    static let seconds: Double = ProcessInfo.processInfo.environment["FHIR_FUZZ_SECONDS"].flatMap(Double.init) ?? 1
    static let seed: UInt64 = ProcessInfo.processInfo.environment["FHIR_FUZZ_SEED"].flatMap(UInt64.init) ?? UInt64(Date().timeIntervalSince1970)

    /// Fragments that have broken parsers: overflowing digit runs, control bytes, separators, escapes.
    static let dictionary = [
        "9999999999999999999999", "-9223372036854775808", "\u{0}", "%00", "%", ",", "|", ":", "$", "\\", "\"", "e999999", "E-999999",
        ".", "..", "/", "_history", "W/", "*", "=", "&", ";", " ", "\t", "\r\n", "ge", "sa", "ap", "1e19", "NaN", "Infinity", "{", "}",
        "[", "]", "\u{FEFF}", "\u{1F600}", "T", "Z", "+14:00", "-14:00", "24:00:00", "0000", "9999", "00", "#", "?", "urn:uuid:",
    ]

    typealias Generator = SplitMix64

    /// One mutation of a seed: insert, delete, replace, splice or repeat.
    static func mutate(_ seeds: [String], _ random: inout Generator) -> String {
        var text = Array(seeds.randomElement(using: &random) ?? "")
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            let position = text.isEmpty ? 0 : Int.random(in: 0...text.count, using: &random)
            switch Int.random(in: 0..<6, using: &random) {
            case 0: text.insert(contentsOf: dictionary.randomElement(using: &random)!, at: position)
            case 1 where !text.isEmpty: text.remove(at: min(position, text.count - 1))
            case 2 where !text.isEmpty: text[min(position, text.count - 1)] = Character(Unicode.Scalar(UInt8.random(in: 0...127, using: &random)))
            case 3: text.insert(contentsOf: seeds.randomElement(using: &random) ?? "", at: position)
            case 4 where !text.isEmpty:
                let end = min(text.count, position + Int.random(in: 1...8, using: &random))
                let slice = text[min(position, end)..<end]
                text.insert(contentsOf: Array(repeating: slice, count: Int.random(in: 1...50, using: &random)).flatMap { $0 }, at: position)
            default: text.insert(contentsOf: String(repeating: "9", count: Int.random(in: 1...40, using: &random)), at: position)
            }
        }
        return String(text)
    }

    /// Runs `body` on mutated seeds for the configured time.
    static func fuzz(_ name: String, seeds: [String], _ body: (String) throws -> Void) rethrows {
        var random = Generator(seed: seed ^ SplitMix64.hash(name))
        let deadline = Date().addingTimeInterval(seconds)
        var runs = 0
        for seed in seeds { try body(seed) }
        while Date() < deadline || runs < 200 {
            try body(mutate(seeds, &random))
            runs += 1
        }
    }

    /// W3C trace context headers: the gateway's own trace id reader and the parser the OpenTelemetry
    /// propagator uses for `traceparent` with `tracestate`.
    @Test func traceContextHeaders() {
        let seeds = ["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
                     "ff-00000000000000000000000000000000-0000000000000000-ff", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7", "a@b=c,d=e f", ""]
        Self.fuzz("traceparent", seeds: seeds) { text in
            if let traceID = TraceParent.traceID(text) {
                #expect(traceID.utf8.count == 32 && traceID.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) })
            }
            _ = try? TraceContext(traceParentHeaderValue: text, traceStateHeaderValue: seeds[3])
            _ = try? TraceContext(traceParentHeaderValue: seeds[0], traceStateHeaderValue: text)
        }
    }

    @Test func httpDates() {
        Self.fuzz("http-date", seeds: ["Sun, 06 Nov 1994 08:49:37 GMT", "Thu, 01 Jan 2025 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT"]) { text in
            if let seconds = CivilTime.parseHTTPDate(text) {
                #expect(seconds >= -62_135_596_800 && seconds <= 253_402_300_800, "\(text) (seed \(Self.seed))")
                #expect(CivilTime.parseHTTPDate(CivilTime.httpDate(epochSeconds: seconds)) == seconds || text.contains(":60 "))
            }
        }
    }

    @Test func fhirDatesAndDecimals() {
        Self.fuzz("datetime", seeds: ["2024", "2024-03", "2024-03-05", "2024-03-05T08:30:00Z", "9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00-14:00"]) { text in
            if let range = FHIRDateTime.parse(text) { #expect(range.lower < range.upper, "\(text) (seed \(Self.seed))") }
        }
        Self.fuzz("decimal", seeds: ["7.10", "-0.5", "1e10", "0.1234567890123456789", "120"]) { text in
            if DecimalDomain.contains(text) { #expect(Decimal(string: text) != nil, "\(text) (seed \(Self.seed))") }
        }
    }

    @Test func entityTagsAndReferences() {
        Self.fuzz("etag", seeds: ["W/\"3\"", "\"12\"", "7", "*"]) { text in
            if let version = EntityTag.version(text) { #expect(version >= 0 && version < 1_000_000_000) }
        }
        Self.fuzz("reference", seeds: ["Patient/123", "https://fhir.test/acme/r4/Patient/abc/_history/2", "#p1", "urn:uuid:1"]) { text in
            if let reference = LocalReference.parse(text, baseURL: "https://fhir.test/acme/r4") {
                #expect(!reference.type.isEmpty && !reference.id.isEmpty && !reference.relative.contains("//"))
            }
        }
    }

    @Test func queryStringsAndSearches() {
        let parser = SearchParser(defaultCount: 10, maximumCount: 50, strict: false, baseURL: "https://fhir.test/acme/r4")
        let seeds = [
            "family=smi&_count=5&_sort=-birthdate", "date=ge2024-01-01&date=lt2025&_include=Encounter:patient",
            "value-quantity=gt5.4|http://unitsofmeasure.org|g/dL", "code=http://loinc.org%7C718-7,789-8&_total=accurate",
            "subject=Patient/abc&_elements=id,status&_summary=count", "identifier=urn:hms:acme:mrn|MRN-1&_id=1,2,3&name:contains=%C3%A9",
        ]
        Self.fuzz("search", seeds: seeds) { text in
            guard let pairs = try? QueryString.parse(text) else { return }
            for type in ["Patient", "Encounter", "Observation", "DiagnosticReport", "MedicationRequest", "AuditEvent"] {
                if let request = try? parser.parse(resourceType: type, parameters: pairs) {
                    #expect(request.count <= 50 && request.clauses.reduce(0) { $0 + $1.values.count } <= SearchParser.maximumTerms)
                }
            }
        }
    }

    @Test func narratives() {
        let ns = #"xmlns="http://www.w3.org/1999/xhtml""#
        let seeds = [#"<div \#(ns)><p>7.10 <b>g/dL</b></p></div>"#, #"<div \#(ns)><a href="https://x/a">a</a><img src="i.png" alt="i"/></div>"#,
                     #"<div \#(ns)><table><tr><td style="color:red">x</td></tr></table></div>"#]
        Self.fuzz("narrative", seeds: seeds) { text in
            // Whatever libxml2 makes of it, an accepted narrative holds no active content.
            if FHIRValidation.XHTMLFormatProbe.accepts(text) {
                let lowered = text.lowercased()
                #expect(!lowered.contains("<script") && !lowered.contains("<!entity") && !lowered.contains("<iframe"), "\(text) (seed \(Self.seed))")
            }
        }
    }

    @Test func scopes() {
        Self.fuzz("scope", seeds: ["patient/Observation.rs?category=laboratory", "system/*.cruds", "user/Patient.read", "launch/patient openid"]) { text in
            let policy = ScopePolicy(scope: text)
            for grant in policy.grants { #expect(!grant.permissions.isEmpty) }
            _ = policy.decide(.read, resourceType: "Observation", patient: "p")
        }
    }

    /// Admin API bodies and registry documents: whatever parses renders back to the same tenant.
    @Test func tenantDocuments() {
        let seeds = [
            #"{"name": "Acme", "tier": "starter", "issuer": "development", "audience": "https://fhir.test/acme/r4", "baa": {"version": "1", "signed": "2026-01-01", "expires": "2027-12-31"}}"#,
            #"{"name": "X", "issuer": "https://idp.x/realms/a", "jwks_url": "https://idp.x/jwks", "audience": "x", "limits": {"read": {"rate": 0.5, "burst": 3}, "concurrent_requests": 9, "stored_resources": {"soft": 1, "hard": 2}}, "hospital_claim": "hospital_ids", "cors_allowed_origins": ["https://app.x"], "resource_types": ["Patient"]}"#,
            #"{"name": "Y", "issuer": "https://idp.y", "audience": "y", "jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "BB", "kid": "k"}]}, "store": "second", "writes_paused": true}"#,
            #"{"name": "Z", "issuer": "development", "audience": "z", "backend_clients": [{"client_id": "lab-1", "name": "Lab", "jwks_url": "https://lab.z/jwks", "scopes": ["system/*.rs", "system/Observation.cu?category=laboratory"]}, {"client_id": "ehr", "jwks": {"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "r"}]}, "scopes": ["system/Patient.read"]}]}"#,
        ]
        Self.fuzz("tenant-document", seeds: seeds) { text in
            guard let json = try? JSONParser.parse(text, maximumDepth: 16),
                  let tenant = try? TenantDocument.parse(json, slug: "acme", developmentIssuer: "https://fhir.test/dev-issuer") else { return }
            let again = try? TenantDocument.parse(TenantDocument.render(tenant), slug: "acme", developmentIssuer: "https://fhir.test/dev-issuer",
                                                  allowFiles: true)
            #expect(again == tenant, "a tenant renders to a document that parses back to it (seed \(Self.seed)): \(text)")
        }
    }

    /// Token endpoint forms and client assertions: a form either parses into a request or is an OAuth
    /// refusal; a mutated assertion is refused (the genuine one is never among the mutations).
    @Test func tokenRequestsAndClientAssertions() async throws {
        let directory = try GatewayFixture.makeDirectory()
        let yaml = """
        development_issuer:
          key_file: \(directory)/dev.pem
        tenants:
          - slug: acme
            issuer: development
            audience: https://fhir.test/acme/r4
            backend_clients:
              - {client_id: lab-engine, jwks: {keys: [\(BackendClientKeys.jwk(ec: BackendClientKeys.ec, kid: "lab-ec").serializedString)]}, scopes: [system/*.rs]}
        """
        let tenant = try #require(try ConfigurationLoader.load(yaml: yaml).tenant(slug: "acme"))
        let audience = "https://fhir.test/acme/auth/token"
        let genuine = BackendClientKeys.assertion(client: "lab-engine", tokenURL: audience, kid: "lab-ec", alg: "ES384", signer: .es384(BackendClientKeys.ec))
        let form = BackendClientKeys.form(assertion: genuine)
        Self.fuzz("token-request", seeds: [form, "grant_type=client_credentials", "scope=a&scope=b", ""]) { text in
            do {
                let request = try TokenRequest.parse(text)
                #expect(!request.assertion.isEmpty)
            } catch let error as OAuthError {
                #expect(["invalid_request", "unsupported_grant_type"].contains(error.code), "\(text) (seed \(Self.seed))")
                #expect(error.status.code == 400)
            } catch {
                Issue.record("\(text): \(error) (seed \(Self.seed))")
            }
        }
        let verifier = TokenVerifier(developmentIssuer: nil, logger: testLogger)
        _ = try await verifier.verifyClientAssertion(genuine, tenant: tenant, audience: audience)
        var assertions: [String] = []
        Self.fuzz("client-assertion", seeds: [genuine, "e30.e30.e30"]) { assertions.append($0) }
        for candidate in assertions.prefix(5000) where candidate != genuine {
            await #expect(throws: ClientAssertionFailure.self, "\(candidate) (seed \(Self.seed))") {
                _ = try await verifier.verifyClientAssertion(candidate, tenant: tenant, audience: audience)
            }
        }
    }

    /// `$export` kick-off parameters: every accepted set stays within its bounds and survives the
    /// round trip through the job's stored JSON.
    @Test func exportKickOffParameters() throws {
        let patient = UUID().uuidString.lowercased()
        let seeds = [
            "_type=Patient,Observation&_since=2026-01-01T00:00:00Z&_typeFilter=Observation%3Fcode%3Dhttp://loinc.org%7C718-7",
            "_outputFormat=application/fhir%2Bndjson&_elements=Patient.name,birthDate&_until=2026-06-01T12:00:00%2B02:00",
            "patient=Patient/\(patient)&patient=https://fhir.test/acme/r4/Patient/\(patient)&_type=Encounter",
            "_typeFilter=Encounter%3Fstatus%3Dfinished,Encounter%3Fdate%3Dge2024&includeAssociatedData=x", "_type=&_type=,,", "",
        ]
        let now = Int64(Date().timeIntervalSince1970)
        let grant = TenantScope.Grant(slug: "acme", tenantID: patient, subject: "s", clientID: "c", scope: "system/*.rs", patient: nil,
                                      fhirUser: nil, hospitals: nil)
        let scope = TenantScope.resumed(grant)
        try Self.fuzz("export-kick-off", seeds: seeds) { text in
            guard let pairs = try? QueryString.parse(text) else { return }
            for (level, lenient) in [(ExportParameters.Level.system, false), (.patient, true), (.group(patient), false)] {
                do {
                    let parsed = try ExportParameters.parse(level: level, pairs: pairs, servedTypes: TenantConfiguration.supportedResourceTypes,
                                                            baseURL: "https://fhir.test/acme/r4", scope: scope, lenient: lenient,
                                                            now: now)
                    #expect(!parsed.types.isEmpty && Set(parsed.types).isSubset(of: TenantConfiguration.supportedResourceTypes), "\(text) (seed \(Self.seed))")
                    #expect((parsed.until ?? now) <= now && parsed.before(transactionTime: now - 1) <= now)
                    #expect((parsed.patients?.count ?? 0) <= ExportParameters.maximumPatients)
                    let stored = try JSONEncoder().encode(parsed)
                    #expect(try JSONDecoder().decode(ExportParameters.self, from: stored) == parsed, "\(text) (seed \(Self.seed))")
                } catch let error as FHIRError {
                    #expect([400, 403].contains(error.status), "\(text): \(error.status) (seed \(Self.seed))")
                }
            }
        }
    }

    @Test func jsonBodiesAndStructuralValidation() {
        let seeds = [
            LabFixtures.observation(patient: "0b3c1f8e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"),
            LabFixtures.report(patient: "0b3c1f8e-1a2b-4c3d-8e9f-0a1b2c3d4e5f", results: ["Observation/1"]),
            #"{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"POST","url":"Observation"}}]}"#,
        ]
        Self.fuzz("json", seeds: seeds) { text in
            guard let json = try? JSONParser.parse(text, maximumDepth: 32) else { return }
            let reparsed = try? JSONParser.parse(json.serializedString, maximumDepth: 33)
            #expect(reparsed == json, "a parsed body serialises back to itself (seed \(Self.seed))")
            _ = StructuralValidator.validate(json, expectedType: json["resourceType"]?.stringValue)
            _ = SearchIndex.extract(from: json, baseURL: "https://fhir.test/acme/r4")
        }
    }

    @Test func cursorsAndTokens() async throws {
        let codec = CursorCodec(secret: "fuzz-secret-0123456789abcdef0123456789")
        let genuine = codec.encode(tenant: "acme", resourceType: "Patient", parameters: [("family", "x")], position: .init(sortValues: ["x"], id: "1"))
        Self.fuzz("cursor", seeds: [genuine, "AAAA", ""]) { text in
            // Base64 has spellings that decode to the same bytes; those open to the genuine position. Nothing else opens.
            if let position = try? codec.decode(text, tenant: "acme", resourceType: "Patient", parameters: [("family", "x")]) {
                #expect(position == .init(sortValues: ["x"], id: "1"), "\(text) (seed \(Self.seed))")
            }
        }
        let fixture = try await GatewayFixture.shared(.sqlite)
        let token = fixture.token("initech")
        let tenant = try #require(fixture.configuration.tenant(slug: "initech"))
        let verifier = TokenVerifier(developmentIssuer: fixture.developmentIssuer, logger: testLogger)
        try await verifier.install(realm: "initech", keySource: .development, fetchNow: false)
        var tokens: [String] = []
        Self.fuzz("token", seeds: [token, "e30.e30.e30"]) { tokens.append($0) }
        for candidate in tokens.prefix(5000) where candidate != token {
            // Header, claims and signature of a mutated token are parsed without trapping.
            _ = try? await verifier.authorize(authorization: "Bearer " + candidate, tenant: tenant, tenantID: "t")
        }
    }
}
