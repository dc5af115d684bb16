/// Where the previous page ended: the sort values and id of its last row (keyset paging).
public struct PagePosition: Sendable, Equatable, Codable {
    public var sortValues: [String]
    public var id: String

    public init(sortValues: [String], id: String) {
        self.sortValues = sortValues
        self.id = id
    }
}
