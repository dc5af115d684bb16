import Crypto
import FHIRModels
import Foundation

/// A signed statement of a tenant's audit chain head, kept outside the database. Deleting the
/// newest records, or rewriting the chain from some record on, is undetectable from the database
/// alone; against an anchor it is not: the anchored record must still exist with the anchored hash.
public struct AuditAnchor: Sendable, Equatable {
    public var tenant: String
    public var tenantID: String
    public var sequence: Int64
    public var hash: String
    public var anchoredAt: Int64

    public init(tenant: String, tenantID: String, sequence: Int64, hash: String, anchoredAt: Int64) {
        self.tenant = tenant
        self.tenantID = tenantID
        self.sequence = sequence
        self.hash = hash
        self.anchoredAt = anchoredAt
    }

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// The signed bytes: every field, in a fixed order.
    private var message: Data {
        Data(JSON.array([.string(tenant), .string(tenantID), .int(Int(sequence)), .string(hash), .int(Int(anchoredAt))]).serialized)
    }

    /// The anchor as a JSON document with an Ed25519 signature.
    public func signed(with key: Curve25519.Signing.PrivateKey) throws -> String {
        var object = JSONObject()
        object.append("tenant", tenant)
        object.append("tenant_id", tenantID)
        object.append("sequence", .int(Int(sequence)))
        object.append("hash", hash)
        object.append("anchored_at", CivilTime.isoInstant(epochSeconds: anchoredAt))
        object.append("public_key", key.publicKey.rawRepresentation.base64EncodedString())
        object.append("signature", try key.signature(for: message).base64EncodedString())
        return JSON.object(object).serializedString
    }

    /// Reads an anchor document and checks its signature against `publicKey` (the key the auditor
    /// holds, never the one inside the document).
    public static func verified(_ text: String, publicKey: Curve25519.Signing.PublicKey) throws -> AuditAnchor {
        guard case .object(let object)? = try? JSONParser.parse(text),
              let tenant = object["tenant"]?.stringValue, let tenantID = object["tenant_id"]?.stringValue,
              case .number(let sequenceText)? = object["sequence"], let sequence = Int64(sequenceText),
              let hash = object["hash"]?.stringValue, let anchored = object["anchored_at"]?.stringValue.flatMap(FHIRDateTime.parse),
              let signature = object["signature"]?.stringValue.flatMap({ Data(base64Encoded: $0) }) else {
            throw Invalid(description: "the anchor is not a valid anchor document")
        }
        let anchor = AuditAnchor(tenant: tenant, tenantID: tenantID, sequence: sequence, hash: hash, anchoredAt: anchored.lower)
        guard publicKey.isValidSignature(signature, for: anchor.message) else {
            throw Invalid(description: "the anchor's signature does not match the public key")
        }
        return anchor
    }

    /// Loads a signing key (base64 of the 32-byte raw key), creating it (mode 0600) and its public
    /// half (`<path>.pub`) when the file does not exist.
    public static func signingKey(at path: String) throws -> Curve25519.Signing.PrivateKey {
        if let data = FileManager.default.contents(atPath: path) {
            guard let raw = Data(base64Encoded: String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)),
                  let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw) else {
                throw Invalid(description: "\(path) is not an anchor signing key")
            }
            return key
        }
        let key = Curve25519.Signing.PrivateKey()
        guard FileManager.default.createFile(atPath: path, contents: Data(key.rawRepresentation.base64EncodedString().utf8),
                                             attributes: [.posixPermissions: 0o600]) else {
            throw Invalid(description: "cannot write \(path)")
        }
        try Data(key.publicKey.rawRepresentation.base64EncodedString().utf8).write(to: URL(fileURLWithPath: path + ".pub"))
        return key
    }

    public static func publicKey(at path: String) throws -> Curve25519.Signing.PublicKey {
        guard let data = FileManager.default.contents(atPath: path),
              let raw = Data(base64Encoded: String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)),
              let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else {
            throw Invalid(description: "\(path) is not an anchor public key")
        }
        return key
    }
}

extension HMSRepository {
    /// What an anchor says about the chain now: nil when the anchored record is still there with
    /// the anchored hash, otherwise why not.
    public func checkAnchor(_ anchor: AuditAnchor) async throws -> String? {
        guard let stored = try await auditHash(tenantID: anchor.tenantID, sequence: anchor.sequence) else {
            let head = try await auditHead(tenantID: anchor.tenantID)
            return "record \(anchor.sequence) is gone: the chain now ends at \(head?.sequence ?? 0) (records were deleted)"
        }
        guard stored == anchor.hash else {
            return "record \(anchor.sequence) no longer has the anchored hash (the chain was rewritten)"
        }
        return nil
    }
}
