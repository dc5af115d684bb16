import FHIRModels
import Foundation
import GatewayApp
@testable import GatewayAuth
import GatewayConfig
@testable import GatewayStore
import HummingbirdTesting
import Testing

/// SMART Backend Services on both stores: registered clients authenticate at `/<tenant>/auth/token`
/// with JWTs signed by their own RS384 or ES384 keys and get short system-scoped tokens that the
/// gateway verifies like any other; every malformed, forged, replayed or misdirected request is refused.
@Suite struct BackendServicesTests {
    /// Tenants registered for these tests in the shared fixture's store: `slug` with two clients,
    /// `other` with a client of its own, `suspended` (suspended, with clients).
    struct Tenants: Sendable {
        let fixture: GatewayFixture
        let slug: String
        let other: String
        let suspended: String

        var tokenURL: String { "\(TestTenants.publicBase)/\(slug)/auth/token" }
    }

    private static let sqliteTenants = Task { try await Tenants.register(.sqlite) }
    private static let postgresTenants = Task { try await Tenants.register(.postgres) }

    static func tenants(_ store: StoreKind) async throws -> Tenants {
        switch store {
        case .sqlite: try await sqliteTenants.value
        case .postgres: try await postgresTenants.value
        }
    }

    static let labKeys = JSON.object(["keys": .array([BackendClientKeys.jwk(rsa: BackendClientKeys.rsa, kid: "lab-rsa"),
                                                     BackendClientKeys.jwk(ec: BackendClientKeys.ec, kid: "lab-ec")])])

    static func client(_ id: String, keys: JSON? = nil, url: String? = nil, scopes: [String]) -> JSON {
        var client = JSONObject()
        client.append("client_id", id)
        client.append("jwks", keys)
        client.append("jwks_url", url)
        client.append("scopes", .array(scopes.map(JSON.string)))
        return .object(client)
    }

    static func register(_ fixture: GatewayFixture, _ slug: String, clients: [JSON], extra: [String: JSON] = [:]) async throws {
        guard case .object(var document) = try JSONParser.parse(AdminAPITests.document(slug)) else { return }
        document["backend_clients"] = .array(clients)
        for (key, value) in extra { document[key] = value }
        let registry = TenantRegistry(repository: fixture.repository, developmentIssuer: fixture.configuration.developmentIssuer)
        _ = try await registry.put(slug, document: .object(document), actor: TenantRegistry.Actor(subject: "backend-services-tests"))
    }

    static func request(_ client: any TestClientProtocol, _ slug: String, _ body: String,
                        contentType: String = "application/x-www-form-urlencoded") async throws -> TestResponse {
        try await client.send("/\(slug)/auth/token", method: .post, headers: ["Content-Type": contentType], body: body)
    }

    func labAssertion(_ tenants: Tenants, ec: Bool = true, claims: [String: JSON?] = [:], header: [String: JSON] = [:]) -> String {
        ec ? BackendClientKeys.assertion(client: "lab-engine", tokenURL: tenants.tokenURL, kid: "lab-ec", alg: "ES384",
                                         signer: .es384(BackendClientKeys.ec), claims: claims, header: header)
            : BackendClientKeys.assertion(client: "lab-engine", tokenURL: tenants.tokenURL, kid: "lab-rsa", alg: "RS384",
                                          signer: .rs384(BackendClientKeys.rsa), claims: claims, header: header)
    }

    @Test(arguments: StoreKind.available)
    func rs384AndES384ClientsGetTokensTheGatewayAccepts(store: StoreKind) async throws {
        let tenants = try await Self.tenants(store)
        try await tenants.fixture.withClient { client in
            for ec in [false, true] {
                let answer = try await Self.request(client, tenants.slug, BackendClientKeys.form(
                    assertion: labAssertion(tenants, ec: ec), scope: "system/Patient.rs system/Observation.cruds launch system/AuditEvent.rs"))
                expectStatus(answer, 200, "\(answer.body)")
                #expect(answer.header("Cache-Control") == "no-store")
                #expect(answer.json["token_type"] as? String == "bearer")
                #expect(answer.json["expires_in"] as? Int == 300)
                #expect(answer.json["scope"] as? String == "system/Patient.rs", "requested ∩ registered; *.rs does not reach AuditEvent")
                let token = try #require(answer.json["access_token"] as? String)
                let claims = BackendClientKeys.claims(token)
                #expect(claims["iss"] as? String == "\(TestTenants.publicBase)/\(tenants.slug)/auth")
                for name in ["sub", "azp", "client_id"] { #expect(claims[name] as? String == "lab-engine") }
                #expect(claims["aud"] as? String == "\(TestTenants.publicBase)/\(tenants.slug)/r4")
                #expect(claims["tenant_id"] as? String == tenants.slug)
                #expect(claims["jti"] is String)
                let issuedAt = try #require(claims["iat"] as? Int), expiry = try #require(claims["exp"] as? Int)
                #expect(expiry - issuedAt <= 300 && expiry > issuedAt)
                #expect(BackendClientKeys.header(token)["alg"] as? String == "ES384")

                let patients = try await client.get("/\(tenants.slug)/r4/Patient?_count=2", token: token)
                expectStatus(patients, 200)
                expectStatus(try await client.get("/\(tenants.slug)/r4/Observation", token: token), 403, "only the granted scope")
                let elsewhere = try await client.get("/\(tenants.other)/r4/Patient?_count=2", token: token)
                expectStatus(elsewhere, 403, "a token of one tenant is refused at another")
                #expect(elsewhere.issueCode == "forbidden")
            }
            let keys = try await client.get("/\(tenants.slug)/auth/jwks.json")
            expectStatus(keys, 200)
            let published = ((keys.json["keys"] as? [[String: Any]]) ?? []).compactMap { $0["kid"] as? String }
            #expect(published.count == 1 && published.first?.hasPrefix("gw-") == true)
            #expect(published == ((try await client.get("/\(tenants.other)/auth/jwks.json")).json["keys"] as? [[String: Any]])?.compactMap { $0["kid"] as? String })
        }
    }

    enum Refusal: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case wrongIssuer, issuerIsNotSubject, unknownClient, otherTenantsClient, wrongAudience, missingExpiry, expiryTooFar, expired,
             missingJTI, replayedJTI, unknownKid, algorithmMismatch, jkuMismatch, badSignature, malformedAssertion, wrongGrantType,
             wrongAssertionType, missingAssertion, repeatedParameter, unregisteredScope, noScope, oversizeBody, wrongContentType,
             suspendedTenant, getMethod

        var testDescription: String { rawValue }

        /// What `error_description` says for the refusals that are all `invalid_client`.
        var described: String? {
            switch self {
            case .wrongIssuer, .unknownKid: "kid names none of the client's keys"
            case .issuerIsNotSubject: "iss and sub must both be the client id"
            case .unknownClient, .otherTenantsClient: "no such client"
            case .wrongAudience: "aud is not this token endpoint"
            case .missingExpiry: "has no exp"
            case .expiryTooFar: "at most 5 minutes ahead"
            case .expired: "has expired"
            case .missingJTI: "needs a jti"
            case .replayedJTI: "already used"
            case .algorithmMismatch: "alg is not the algorithm"
            case .jkuMismatch: "jku"
            case .badSignature, .malformedAssertion: "could not be verified"
            default: nil
            }
        }
    }

    @Test(arguments: StoreKind.available, Refusal.allCases)
    func refusals(store: StoreKind, refusal: Refusal) async throws {
        let tenants = try await Self.tenants(store)
        let now = Int(Date().timeIntervalSince1970)
        try await tenants.fixture.withClient { client in
            var slug = tenants.slug
            var contentType = "application/x-www-form-urlencoded"
            var body: String
            var expected: (Int, String) = (401, "invalid_client")
            func form(_ claims: [String: JSON?] = [:], header: [String: JSON] = [:], ec: Bool = true) -> String {
                BackendClientKeys.form(assertion: labAssertion(tenants, ec: ec, claims: claims, header: header))
            }
            switch refusal {
            case .wrongIssuer:
                // A registered client's name on an assertion signed with another client's key.
                body = BackendClientKeys.form(assertion: BackendClientKeys.assertion(
                    client: "ehr-pull", tokenURL: tenants.tokenURL, kid: "lab-ec", alg: "ES384", signer: .es384(BackendClientKeys.ec)))
            case .issuerIsNotSubject: body = form(["sub": .string("ehr-pull")])
            case .unknownClient: body = form(["iss": .string("nobody"), "sub": .string("nobody")])
            case .otherTenantsClient:
                body = BackendClientKeys.form(assertion: BackendClientKeys.assertion(
                    client: "other-engine", tokenURL: tenants.tokenURL, kid: "other-ec", alg: "ES384", signer: .es384(BackendClientKeys.otherTenantEC)))
            case .wrongAudience: body = form(["aud": .string("\(TestTenants.publicBase)/\(tenants.other)/auth/token")])
            case .missingExpiry: body = form(["exp": nil])
            case .expiryTooFar: body = form(["exp": .int(now + 3600)])
            case .expired: body = form(["exp": .int(now - 600)])
            case .missingJTI: body = form(["jti": nil])
            case .replayedJTI:
                body = form(["jti": .string("once-\(UUID().uuidString)")])
                expectStatus(try await Self.request(client, slug, body), 200, "the first use")
            case .unknownKid: body = form(header: ["kid": .string("lab-ec-2")])
            case .algorithmMismatch:
                body = BackendClientKeys.form(assertion: BackendClientKeys.assertion(
                    client: "lab-engine", tokenURL: tenants.tokenURL, kid: "lab-rsa", alg: "RS256", signer: .rs256(BackendClientKeys.rsa)))
            case .jkuMismatch: body = form(header: ["jku": .string("https://attacker.test/jwks.json")])
            case .badSignature:
                body = BackendClientKeys.form(assertion: BackendClientKeys.assertion(
                    client: "lab-engine", tokenURL: tenants.tokenURL, kid: "lab-ec", alg: "ES384", signer: .es384(BackendClientKeys.strangerEC)))
            case .malformedAssertion: body = BackendClientKeys.form(assertion: "not.a.jwt%%")
            case .wrongGrantType:
                body = BackendClientKeys.form(assertion: labAssertion(tenants), grantType: "password")
                expected = (400, "unsupported_grant_type")
            case .wrongAssertionType:
                body = BackendClientKeys.form(assertion: labAssertion(tenants), assertionType: "urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
                expected = (400, "invalid_request")
            case .missingAssertion:
                body = "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&scope=system%2FPatient.rs"
                expected = (400, "invalid_request")
            case .repeatedParameter:
                body = form() + "&scope=system%2FPatient.rs"
                expected = (400, "invalid_request")
            case .unregisteredScope:
                body = BackendClientKeys.form(assertion: labAssertion(tenants), scope: "system/Patient.c user/Patient.rs patient/*.rs")
                expected = (400, "invalid_scope")
            case .noScope:
                body = BackendClientKeys.form(assertion: labAssertion(tenants), scope: nil)
                expected = (400, "invalid_scope")
            case .oversizeBody:
                body = form() + "&padding=" + String(repeating: "a", count: 20_000)
                expected = (413, "invalid_request")
            case .wrongContentType:
                body = form()
                contentType = "application/json"
                expected = (400, "invalid_request")
            case .suspendedTenant:
                slug = tenants.suspended
                body = BackendClientKeys.form(assertion: BackendClientKeys.assertion(
                    client: "lab-engine", tokenURL: "\(TestTenants.publicBase)/\(slug)/auth/token", kid: "lab-ec", alg: "ES384",
                    signer: .es384(BackendClientKeys.ec)))
                expected = (403, "unauthorized_client")
            case .getMethod:
                let answer = try await client.get("/\(slug)/auth/token?\(form())")
                expectStatus(answer, 405)
                #expect(answer.json["error"] as? String == "invalid_request")
                return
            }
            let answer = try await Self.request(client, slug, body, contentType: contentType)
            expectStatus(answer, expected.0, "\(refusal): \(answer.body)")
            #expect(answer.json["error"] as? String == expected.1, "\(refusal): \(answer.body)")
            #expect(answer.json["error_description"] is String)
            if let described = refusal.described {
                #expect((answer.json["error_description"] as? String)?.contains(described) == true, "\(refusal): \(answer.body)")
            }
            #expect(answer.json["access_token"] == nil)
            #expect(answer.header("Cache-Control") == "no-store")
        }
    }

    @Test(arguments: StoreKind.available)
    func unknownTenantsAndPathsAreNotFound(store: StoreKind) async throws {
        let tenants = try await Self.tenants(store)
        try await tenants.fixture.withClient { client in
            let body = BackendClientKeys.form(assertion: labAssertion(tenants))
            expectStatus(try await Self.request(client, "no-such-tenant", body), 404)
            expectStatus(try await Self.request(client, tenants.slug.replacingOccurrences(of: "bsa", with: "bsz"), body), 404)
            expectStatus(try await client.send("/\(tenants.slug)/auth/authorize", method: .post, body: body), 404)
            expectStatus(try await client.send("/\(tenants.slug)/auth/token/x", method: .post, body: body), 404)
        }
    }

    /// One PostgreSQL, two gateway instances with their own connections: an assertion accepted by one is refused by the other.
    @Test(.enabled(if: StoreKind.postgresURL != nil))
    func replayIsRefusedAcrossInstances() async throws {
        let tenants = try await Self.tenants(.postgres)
        let second = try await HMSRepository.open(tenants.fixture.configuration.database, logger: testLogger)
        let runner = Task { await second.run() }
        defer { runner.cancel() }
        let first = try await GatewayApplication.build(configuration: tenants.fixture.configuration, repository: tenants.fixture.repository,
                                                       logger: testLogger)
        let other = try await GatewayApplication.build(configuration: tenants.fixture.configuration, repository: second, logger: testLogger)
        let body = BackendClientKeys.form(assertion: labAssertion(tenants))
        try await first.test(.router) { one in
            try await other.test(.router) { two in
                expectStatus(try await Self.request(one, tenants.slug, body), 200)
                let replay = try await Self.request(two, tenants.slug, body)
                expectStatus(replay, 401)
                #expect(replay.json["error"] as? String == "invalid_client")
            }
        }
    }

    /// A client whose keys are at a JWKS URL: fetched when first needed, `jku` equal to the URL
    /// accepted, and unknown kids do not make the gateway fetch again within the minute.
    @Test(arguments: StoreKind.available)
    func keysFromAJWKSURL(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let server = try KeySetURLTests.KeyServer()
        defer { server.stop() }
        try server.publish([BackendClientKeys.jwk(ec: BackendClientKeys.urlEC, kid: "url-ec-1")])
        try await server.start()
        let url = "http://127.0.0.1:\(server.port)/jwks.json"
        let slug = try await AdminAPITests.seededTenant(fixture, prefix: "bsu")
        try await Self.register(fixture, slug, clients: [Self.client("url-engine", url: url, scopes: ["system/Patient.rs"])])
        let tokenURL = "\(TestTenants.publicBase)/\(slug)/auth/token"
        @Sendable func assertion(kid: String = "url-ec-1", header: [String: JSON] = [:]) -> String {
            BackendClientKeys.form(assertion: BackendClientKeys.assertion(client: "url-engine", tokenURL: tokenURL, kid: kid, alg: "ES384",
                                                                          signer: .es384(BackendClientKeys.urlEC), header: header))
        }
        let probes = server.fetches
        try await fixture.withClient { client in
            expectStatus(try await Self.request(client, slug, assertion()), 200)
            expectStatus(try await Self.request(client, slug, assertion(header: ["jku": .string(url)])), 200)
            #expect(server.fetches == probes + 1)
            for attempt in 0..<3 {
                expectStatus(try await Self.request(client, slug, assertion(kid: "url-ec-unknown-\(attempt)")), 401)
            }
            #expect(server.fetches == probes + 1, "unknown kids are refetched at most once a minute")
        }
    }

    @Test(arguments: StoreKind.available)
    func smartConfigurationAdvertisesTheTokenEndpoint(store: StoreKind) async throws {
        let tenants = try await Self.tenants(store)
        let explicit = "bse-\(UUID().uuidString.prefix(8).lowercased())"
        try await Self.register(tenants.fixture, explicit, clients: [Self.client("lab-engine", keys: Self.labKeys, scopes: ["system/*.rs"])],
                                extra: ["token_endpoint": .string("https://idp.test/oauth2/token")])
        try await tenants.fixture.withClient { client in
            let document = try await client.get("/\(tenants.slug)/r4/.well-known/smart-configuration").json
            #expect(document["token_endpoint"] as? String == tenants.tokenURL, "backend clients and no token endpoint of its own")
            #expect(document["token_endpoint_auth_methods_supported"] as? [String] == ["private_key_jwt"])
            #expect(document["token_endpoint_auth_signing_alg_values_supported"] as? [String] == ["RS384", "ES384"])
            #expect((document["capabilities"] as? [String])?.contains("client-confidential-asymmetric") == true)
            #expect((document["grant_types_supported"] as? [String])?.contains("client_credentials") == true)
            let configured = try await client.get("/\(explicit)/r4/.well-known/smart-configuration").json
            #expect(configured["token_endpoint"] as? String == "https://idp.test/oauth2/token", "a configured token endpoint stays")
            let without = try await client.get("/initech/r4/.well-known/smart-configuration").json
            #expect(without["token_endpoint"] as? String == "\(TestTenants.publicBase)/dev-issuer/token", "no backend clients: unchanged")
        }
    }
}

extension BackendServicesTests.Tenants {
    static func register(_ store: StoreKind) async throws -> Self {
        let fixture = try await GatewayFixture.shared(store)
        let slug = try await AdminAPITests.seededTenant(fixture, prefix: "bsa")
        let other = try await AdminAPITests.seededTenant(fixture, prefix: "bsb")
        let suspended = try await AdminAPITests.seededTenant(fixture, prefix: "bsc")
        let lab = BackendServicesTests.client("lab-engine", keys: BackendServicesTests.labKeys, scopes: ["system/*.rs", "system/Observation.cu"])
        let ehr = BackendServicesTests.client("ehr-pull", keys: .object(["keys": .array([BackendClientKeys.jwk(ec: BackendClientKeys.urlEC, kid: "ehr-ec")])]),
                                              scopes: ["system/Patient.rs"])
        try await BackendServicesTests.register(fixture, slug, clients: [lab, ehr])
        let otherKeys = JSON.object(["keys": .array([BackendClientKeys.jwk(ec: BackendClientKeys.otherTenantEC, kid: "other-ec")])])
        try await BackendServicesTests.register(fixture, other, clients: [BackendServicesTests.client("other-engine", keys: otherKeys, scopes: ["system/*.rs"])])
        try await BackendServicesTests.register(fixture, suspended, clients: [lab], extra: ["status": .string("suspended")])
        return Self(fixture: fixture, slug: slug, other: other, suspended: suspended)
    }
}
