/// The minimal check of `Narrative.div`: an XHTML `div` element in the XHTML namespace.
///
/// R4 requires the narrative to be a `div` element with `xmlns="http://www.w3.org/1999/xhtml"`; the full
/// XHTML rules (allowed elements, no scripts) are out of scope.
enum XHTMLFormat {
    static let requirement = "Narrative.div must be an XHTML <div> element with xmlns=\"http://www.w3.org/1999/xhtml\""

    static func isNarrativeDiv(_ text: String) -> Bool {
        let trimmed = text.drop { $0.isWhitespace }
        guard trimmed.hasPrefix("<div"), let tagEnd = trimmed.firstIndex(of: ">") else { return false }
        let startTag = trimmed[..<tagEnd]
        guard let next = startTag.dropFirst(4).first, next.isWhitespace else { return false }
        return startTag.contains("xmlns=\"http://www.w3.org/1999/xhtml\"") || startTag.contains("xmlns='http://www.w3.org/1999/xhtml'")
    }
}
