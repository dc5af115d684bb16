import Foundation

extension UUID {
    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// The canonical lowercase form (`8-4-4-4-12`), written directly: `uuidString.lowercased()`
    /// formats through `sprintf` and then copies, which showed in profiles of every request.
    public var lowercasedString: String {
        withUnsafeBytes(of: uuid) { bytes in
            var output = [UInt8]()
            output.reserveCapacity(36)
            for (index, byte) in bytes.enumerated() {
                if index == 4 || index == 6 || index == 8 || index == 10 { output.append(UInt8(ascii: "-")) }
                output.append(Self.hexDigits[Int(byte >> 4)])
                output.append(Self.hexDigits[Int(byte & 0x0f)])
            }
            return String(decoding: output, as: UTF8.self)
        }
    }
}
