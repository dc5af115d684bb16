import Crypto
import FHIRModels
import Foundation
import Testing

/// Every way a token can be wrong gets 401 `login` with `WWW-Authenticate: Bearer`; a valid token
/// for the wrong tenant gets 403 `forbidden`, the same whether or not the resource exists.
@Suite struct AuthenticationTests {
    static func claims(_ fixture: GatewayFixture, _ overrides: [String: JSON?] = [:]) -> JSON {
        var claims = JSONObject()
        claims.append("iss", "https://idp.acme.test")
        claims.append("aud", "https://fhir.test/acme/r4")
        claims.append("exp", .int(Int(GatewayFixture.now + 600)))
        claims.append("tenant_id", "acme")
        claims.append("scope", "system/*.rs")
        for (key, value) in overrides { claims[key] = value }
        return .object(claims)
    }

    static func rejected(_ response: TestResponse, _ label: String) {
        #expect(response.status == 401, "\(label): status \(response.status)")
        #expect(response.issueCode == "login", "\(label)")
        #expect(response.header("WWW-Authenticate")?.hasPrefix("Bearer") == true, "\(label)")
        #expect(response.header("Content-Type")?.hasPrefix("application/fhir+json") == true, "\(label)")
    }

    @Test(arguments: StoreKind.available)
    func invalidTokensAreRefusedWith401(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let patient = "/acme/r4/Patient/\(GatewayFixture.patientID("acme", 1))"
        let rsaPublicPEM = Array(TestKeys.acmeRSA.publicKey.pemRepresentation.utf8)
        let now = GatewayFixture.now
        let cases: [(String, String?)] = [
            ("no token", nil),
            ("garbage", "not-a-jwt"),
            ("truncated", String(fixture.token("acme").dropLast(20))),
            ("two segments", fixture.token("acme").split(separator: ".").prefix(2).joined(separator: ".")),
            ("alg none", TestKeys.sign(header: .object(["alg": .string("none"), "kid": .string("acme-rsa-1")]), claims: Self.claims(fixture), with: .none)),
            ("HS256 signed with the RSA public key", TestKeys.sign(header: GatewayFixture.header("HS256", "acme-rsa-1"), claims: Self.claims(fixture), with: .hs256(rsaPublicPEM))),
            ("header alg differs from the key's", TestKeys.sign(header: GatewayFixture.header("ES256", "acme-rsa-1"), claims: Self.claims(fixture), with: .es256(TestKeys.acmeEC))),
            ("RS256 header on the EC key", TestKeys.sign(header: GatewayFixture.header("RS256", "acme-ec-1"), claims: Self.claims(fixture), with: .rs256(TestKeys.acmeRSA))),
            ("unknown kid", TestKeys.sign(header: GatewayFixture.header("ES256", "someone-else"), claims: Self.claims(fixture), with: .es256(TestKeys.strangerEC))),
            ("no kid", TestKeys.sign(header: GatewayFixture.header("ES256", nil), claims: Self.claims(fixture), with: .es256(TestKeys.acmeEC))),
            ("known kid, wrong key", TestKeys.sign(header: GatewayFixture.header("ES256", "acme-ec-1"), claims: Self.claims(fixture), with: .es256(TestKeys.strangerEC))),
            ("another tenant's issuer key", fixture.token("globex").replacingOccurrences(of: "", with: "")),
            ("expired", fixture.token("acme", claims: ["exp": .int(Int(now - 120))])),
            ("no exp", fixture.token("acme", claims: ["exp": nil])),
            ("not yet valid", fixture.token("acme", claims: ["nbf": .int(Int(now + 300))])),
            ("wrong issuer", fixture.token("acme", claims: ["iss": .string("https://evil.test")])),
            ("wrong audience", fixture.token("acme", claims: ["aud": .string("https://fhir.test/globex/r4")])),
            ("audience list without ours", fixture.token("acme", claims: ["aud": .array([.string("a"), .string("b")])])),
            ("jku pointing elsewhere", TestKeys.sign(header: .object(["alg": .string("ES256"), "kid": .string("attacker"), "jku": .string("http://127.0.0.1:1/jwks")]), claims: Self.claims(fixture), with: .es256(TestKeys.strangerEC))),
            ("oversized", "x" + String(repeating: "a", count: 9000) + ".b.c"),
        ]
        try await fixture.withClient { client in
            for (label, token) in cases {
                let response = try await client.get(patient, token: token)
                if label == "another tenant's issuer key" {
                    // globex's token is signed by globex's key, unknown to acme's issuer.
                    Self.rejected(response, label)
                    continue
                }
                Self.rejected(response, label)
            }
        }
    }

    @Test(arguments: StoreKind.available)
    func validTokensWithinLeewayAreAccepted(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let patient = "/acme/r4/Patient/\(GatewayFixture.patientID("acme", 1))"
        try await fixture.withClient { client in
            expectStatus(try await client.get(patient, token: fixture.token("acme")), 200)
            expectStatus(try await client.get(patient, token: fixture.token("acme", kid: "acme-ec-1")), 200)
            // exp 30 s ago is inside the 60 s leeway; an audience array holding ours is fine.
            expectStatus(try await client.get(patient, token: fixture.token("acme", claims: ["exp": .int(Int(GatewayFixture.now - 30))])), 200)
            expectStatus(try await client.get(patient, token: fixture.token("acme", claims: ["aud": .array([.string("x"), .string("https://fhir.test/acme/r4")])])), 200)
            expectStatus(try await client.get("/globex/r4/Patient/\(GatewayFixture.patientID("globex", 1))", token: fixture.token("globex")), 200)
            expectStatus(try await client.get("/initech/r4/Patient/\(GatewayFixture.patientID("initech", 1))", token: fixture.token("initech")), 200)
        }
    }

    @Test(arguments: StoreKind.available)
    func tenantClaimMismatchIs403WhetherOrNotTheResourceExists(store: StoreKind) async throws {
        let fixture = try await GatewayFixture.shared(store)
        let existing = "/acme/r4/Patient/\(GatewayFixture.patientID("acme", 2))"
        let missing = "/acme/r4/Patient/\(UUID().uuidString.lowercased())"
        let cases: [(String, [String: JSON?])] = [
            ("missing claim", ["tenant_id": nil]),
            ("empty claim", ["tenant_id": .string("")]),
            ("different case", ["tenant_id": .string("ACME")]),
            ("another tenant", ["tenant_id": .string("globex")]),
            ("claim is a list", ["tenant_id": .array([.string("acme")])]),
        ]
        try await fixture.withClient { client in
            for (label, overrides) in cases {
                let token = fixture.token("acme", claims: overrides)
                let onExisting = try await client.get(existing, token: token)
                let onMissing = try await client.get(missing, token: token)
                let onSearch = try await client.get("/acme/r4/Patient?family=smith", token: token)
                for response in [onExisting, onMissing, onSearch] {
                    #expect(response.status == 403, "\(label)")
                    #expect(response.issueCode == "forbidden", "\(label)")
                }
                #expect(onExisting.body == onMissing.body, "\(label): bodies must not reveal existence")
            }
            // A genuine globex token at acme's URL: acme's issuer does not know globex's key: 401.
            expectStatus(try await client.get(existing, token: fixture.token("globex")), 401)
            // A token from acme's issuer naming umbrella (same issuer) at acme: 403.
            let umbrellaToken = fixture.token("acme", claims: ["tenant_id": .string("umbrella")])
            expectStatus(try await client.get(existing, token: umbrellaToken), 403)
        }
    }

    @Test func globexUsesItsConfiguredTenantClaim() async throws {
        let fixture = try await GatewayFixture.shared(.sqlite)
        try await fixture.withClient { client in
            let path = "/globex/r4/Organization?_count=1"
            expectStatus(try await client.get(path, token: fixture.token("globex")), 200)
            let wrongClaimName = fixture.token("globex", claims: ["org": nil, "tenant_id": .string("globex")])
            expectStatus(try await client.get(path, token: wrongClaimName), 403)
        }
    }

    @Test func scopesGateReadAndSearch() async throws {
        let fixture = try await GatewayFixture.shared(.sqlite)
        let patient = "/acme/r4/Patient/\(GatewayFixture.patientID("acme", 3))"
        try await fixture.withClient { client in
            let readOnly = fixture.token("acme", scope: "system/Patient.r")
            expectStatus(try await client.get(patient, token: readOnly), 200)
            expectStatus(try await client.get("/acme/r4/Patient?family=smith", token: readOnly), 403)
            let wrongType = fixture.token("acme", scope: "system/Encounter.rs")
            expectStatus(try await client.get(patient, token: wrongType), 403)
            let doctor = JSON.string("Practitioner/\(GatewayFixture.doctorID("acme", 1))")
            let v1 = fixture.token("acme", scope: "user/Patient.read", claims: ["fhirUser": doctor])
            expectStatus(try await client.get("/acme/r4/Patient?family=smith", token: fixture.token("acme", scope: "user/Patient.read")), 403)
            let foreignUser = JSON.string("Practitioner/\(GatewayFixture.doctorID("globex", 1))")
            expectStatus(try await client.get("/acme/r4/Patient?family=smith", token: fixture.token("acme", scope: "user/Patient.read", claims: ["fhirUser": foreignUser])), 403)
            expectStatus(try await client.get("/acme/r4/Patient?family=smith", token: v1), 200)
            let outOfOrder = fixture.token("acme", scope: "system/Patient.sr")
            expectStatus(try await client.get(patient, token: outOfOrder), 403)
            let patientContext = fixture.token("acme", scope: "patient/*.rs", claims: ["patient": .string(GatewayFixture.patientID("acme", 3))])
            expectStatus(try await client.get(patient, token: patientContext), 200)
            let noPatientClaim = fixture.token("acme", scope: "patient/*.rs")
            expectStatus(try await client.get(patient, token: noPatientClaim), 403)
        }
    }
}
