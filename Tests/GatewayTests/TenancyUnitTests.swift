import FHIRModels
import Foundation
@testable import GatewayApp
import GatewayConfig
import Testing

/// The pieces of tenant operations that need no store: token buckets, agreements, documents, configuration.
@Suite struct TenancyUnitTests {
    @Test func aBucketGrantsItsBurstThenRefillsAtItsRate() {
        let limiter = TenantLimiter(replicas: 1)
        let limit = RateLimit(rate: 2, burst: 3)
        let start: UInt64 = 1_000_000_000_000
        let first = (0..<4).map { _ in limiter.take(slug: "a", rateClass: .read, limit: limit, now: start) }
        #expect(first.map(\.allowed) == [true, true, true, false])
        #expect(first[0].quota == 3 && first[0].window == 2 && first[0].remaining == 2)
        #expect(first[3].reset == 1, "one token comes back in half a second: rounded up to 1 s")
        #expect(limiter.take(slug: "a", rateClass: .read, limit: limit, now: start + 500_000_000).allowed, "refilled at 2/s")
        #expect(!limiter.take(slug: "a", rateClass: .read, limit: limit, now: start + 500_000_000).allowed)
        #expect(limiter.take(slug: "a", rateClass: .search, limit: limit, now: start).allowed, "each class has its own bucket")
        #expect(limiter.take(slug: "b", rateClass: .read, limit: limit, now: start).allowed, "and each tenant")
        // A clock that goes backwards, or a tiny rate, never traps.
        #expect(!limiter.take(slug: "a", rateClass: .read, limit: limit, now: 0).allowed)
        let slow = limiter.take(slug: "c", rateClass: .read, limit: RateLimit(rate: 0.000001, burst: 1), now: start)
        #expect(slow.allowed && slow.reset == 86_400)
    }

    @Test func replicasSplitTheLimit() {
        let limiter = TenantLimiter(replicas: 4)
        let decisions = (0..<4).map { _ in limiter.take(slug: "a", rateClass: .write, limit: RateLimit(rate: 40, burst: 10), now: 5) }
        #expect(decisions.map(\.allowed) == [true, true, false, false], "a quarter of a burst of 10 is 2")
        #expect(decisions[0].quota == 2)
    }

    @Test func concurrencyAndConnectionSlots() async {
        let limiter = TenantLimiter(replicas: 1)
        #expect(limiter.enter(slug: "a", maximum: 2) && limiter.enter(slug: "a", maximum: 2))
        #expect(!limiter.enter(slug: "a", maximum: 2))
        limiter.leave(slug: "a")
        #expect(limiter.enter(slug: "a", maximum: 2))

        await limiter.acquireConnection(slug: "a", maximum: 1)
        let waiter = Task { await limiter.acquireConnection(slug: "a", maximum: 1); return true }
        try? await Task.sleep(for: .milliseconds(50))
        limiter.releaseConnection(slug: "a")
        #expect(await waiter.value, "the slot passes to the waiting request")
        limiter.releaseConnection(slug: "a")
        await limiter.acquireConnection(slug: "a", maximum: 1)
        limiter.releaseConnection(slug: "a")
    }

    @Test func agreementsAreInForceFromSigningToTheEndOfTheirLastDay() throws {
        let agreement = BusinessAssociateAgreement(version: "1", signed: "2026-03-01", expires: "2026-03-31")
        let day = { (text: String) in try #require(BusinessAssociateAgreement.day(text)) }
        #expect(agreement.standing(at: try day("2026-02-28").addingTimeInterval(86_399)) == .notYetInForce)
        #expect(agreement.standing(at: try day("2026-03-01")) == .inForce(daysLeft: 31))
        #expect(agreement.standing(at: try day("2026-03-31").addingTimeInterval(86_399)) == .inForce(daysLeft: 0))
        #expect(agreement.standing(at: try day("2026-04-01")) == .expired)
        #expect(BusinessAssociateAgreement(version: "1", signed: "2026-03-01", expires: nil).standing(at: try day("2099-01-01")) == .inForce(daysLeft: nil))
        for bad in ["2026-02-30", "2026-13-01", "0000-01-01", "26-01-01", "2026-1-01", "2026-01-01T00:00:00Z", ""] {
            #expect(BusinessAssociateAgreement.day(bad) == nil, "\(bad)")
        }
    }

    @Test func configurationFilesCarryTiersAgreementsHospitalsAndStores() throws {
        let yaml = """
        database:
          url: postgres://gw:pw@db1/fhir
        stores:
          eu-west: {url: "postgres://gw:pw@db2/fhir", migration_url: "postgres://owner:pw@db2/fhir"}
        tiers:
          starter: {read: {rate: 5, burst: 10}, stored_resources: {soft: 100, hard: 200}}
        tenants:
          - slug: acme
            issuer: development
            audience: a
            baa: {version: "2026-01", signed: 2026-01-15, expires: 2027-01-14}
            hospital_claim: hospital_ids
            store: eu-west
            limits: {read: {rate: 1.5}}
        """
        let configuration = try ConfigurationLoader.load(yaml: yaml)
        let tenant = try #require(configuration.tenant(slug: "acme"))
        #expect(tenant.baa == BusinessAssociateAgreement(version: "2026-01", signed: "2026-01-15", expires: "2027-01-14"), "unquoted YAML dates")
        #expect(tenant.hospitalClaim == "hospital_ids" && tenant.store == "eu-west")
        let limits = configuration.limits(for: tenant)
        #expect(limits.read == RateLimit(rate: 1.5, burst: 2), "the tenant's own rate, its burst defaulting to the rate rounded up")
        #expect(limits.search == TenantLimits.builtIn(.starter).search, "unset in tier and tenant: built in")
        #expect(limits.storedResourcesHard == 200)
        #expect(configuration.stores["eu-west"] == .postgres(url: "postgres://gw:pw@db2/fhir", migrationURL: "postgres://owner:pw@db2/fhir"))
    }

    @Test(arguments: [
        ("tenants:\n  - {slug: a, issuer: development, audience: a, store: mars}", "tenants[0].store"),
        ("stores: {shared: {url: 'postgres://a@b/c'}}\ntenants: []", "stores.shared"),
        ("stores: {two: {url: 'sqlite.db'}}\ndatabase: {url: 'postgres://a@b/c'}", "stores.two.url"),
        ("stores: {two: {url: 'postgres://a@b/c'}}", "stores"),
        ("tiers: {gold: {}}", "tiers.gold"),
        ("tiers: {starter: {read: {rate: 0}}}", "tiers.starter.read.rate"),
        ("tiers: {starter: {read: {rate: 1, burst: 0}}}", "tiers.starter.read.burst"),
        ("tiers: {starter: {read: {rate: true}}}", "tiers.starter.read.rate"),
        ("tiers: {starter: {stored_resources: {soft: 5, hard: 4}}}", "tiers.starter.stored_resources.soft"),
        ("tenants:\n  - {slug: a, issuer: development, audience: a, baa: {version: '1'}}", "tenants[0].baa.signed"),
        ("tenants:\n  - {slug: a, issuer: development, audience: a, baa: {version: '1', signed: 2026-02-30}}", "tenants[0].baa.signed"),
        ("tenants:\n  - {slug: a, issuer: development, audience: a, hospital_claim: tenant_id}", "tenants[0].hospital_claim"),
        ("admin: {port: 8080}", "admin.port"),
        ("admin: {scope: 'a b'}", "admin.scope"),
        ("server: {replicas: 0}", "server.replicas"),
        ("server: {registry_poll_milliseconds: 10}", "server.registry_poll_milliseconds"),
    ])
    func badTenancyConfigurationNamesTheField(yaml: String, field: String) {
        do {
            _ = try ConfigurationLoader.load(yaml: yaml)
            Issue.record("expected a configuration error at \(field)")
        } catch {
            #expect(error.field == field, "\(error)")
        }
    }

    @Test func mergePatchFollowsRFC7396() throws {
        let target = try JSONParser.parse(#"{"a": "b", "c": {"d": "e", "f": "g"}}"#)
        let patch = try JSONParser.parse(#"{"a": "z", "c": {"f": null}}"#)
        #expect(TenantRegistry.mergePatch(target, patch) == (try JSONParser.parse(#"{"a": "z", "c": {"d": "e"}}"#)))
        #expect(TenantRegistry.mergePatch(target, try JSONParser.parse(#"{"c": null}"#)) == (try JSONParser.parse(#"{"a": "b"}"#)))
    }
}
