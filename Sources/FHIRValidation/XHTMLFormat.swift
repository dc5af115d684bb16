import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// R4's narrative rules for `Narrative.div`, checked with a real XML parser (libxml2 through
/// FoundationXML):
/// - a `div` root in the XHTML namespace, well-formed;
/// - txt-1: only the basic formatting elements and their attributes (HTML 4 chapters 7-11 and 15,
///   `a` with `href` or `name`, `img`, inline `style`): no script, form, frame, object, embed or SVG,
///   no event-handler attribute, no `javascript:` (or similar) link, no style expression;
/// - txt-2: some non-whitespace content.
/// No DTD or entity declaration is accepted, so nothing is expanded and nothing is fetched (XXE).
enum XHTMLFormat {
    static let namespace = "http://www.w3.org/1999/xhtml"

    static let elements: Set<String> = [
        "a", "abbr", "acronym", "address", "b", "bdo", "big", "blockquote", "br", "caption", "cite", "code", "col", "colgroup",
        "dd", "del", "dfn", "div", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li",
        "ol", "p", "pre", "q", "samp", "small", "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
        "tr", "tt", "ul", "var",
    ]

    static let attributes: Set<String> = [
        "title", "style", "class", "id", "lang", "xml:lang", "dir", "accesskey", "tabindex", "span", "width", "height", "align",
        "valign", "char", "charoff", "abbr", "axis", "headers", "scope", "rowspan", "colspan", "border", "frame", "rules",
        "cellspacing", "cellpadding", "summary", "start", "type", "value", "compact", "cite", "datetime",
    ]

    /// Attributes allowed on one element only.
    static let elementAttributes: [String: Set<String>] = ["a": ["href", "name"], "img": ["src", "alt"]]

    /// Nil when `text` is a valid narrative, otherwise why not.
    static func problem(_ text: String) -> String? {
        let lowered = text.lowercased()
        if lowered.contains("<!doctype") || lowered.contains("<!entity") {
            return "Invalid xhtml: a narrative may not declare a DTD or entities"
        }
        let checker = NarrativeChecker()
        let parser = XMLParser(data: Data(text.utf8))
        parser.shouldProcessNamespaces = true
        parser.shouldReportNamespacePrefixes = false
        parser.shouldResolveExternalEntities = false
        parser.delegate = checker
        let parsed = parser.parse()
        if let problem = checker.problem { return "Invalid xhtml: \(problem)" }
        guard parsed else { return "Invalid xhtml: the narrative is not well-formed XML" }
        guard checker.sawRoot else { return "Invalid xhtml: \(requirement)" }
        guard checker.hasContent else { return "Invalid xhtml: txt-2: the narrative has no content" }
        return nil
    }

    static let requirement = "Narrative.div must be an XHTML <div> element with xmlns=\"http://www.w3.org/1999/xhtml\""

    /// A URL scheme that runs code or embeds documents.
    static func isActive(_ url: String, element: String) -> Bool {
        let compact = String(url.lowercased().unicodeScalars.filter { $0.value > 0x20 && $0 != "\u{7F}" })
        for scheme in ["javascript:", "vbscript:", "livescript:", "file:"] where compact.hasPrefix(scheme) { return true }
        if compact.hasPrefix("data:") { return !(element == "img" && compact.hasPrefix("data:image/") && !compact.hasPrefix("data:image/svg")) }
        return false
    }
}

/// Collects the first rule broken while libxml2 reports the document.
private final class NarrativeChecker: NSObject, XMLParserDelegate {
    var problem: String?
    var sawRoot = false
    var hasContent = false
    private var depth = 0

    private func fail(_ parser: XMLParser, _ message: String) {
        if problem == nil { problem = message }
        parser.abortParsing()
    }

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName qName: String?,
                attributes attributeDict: [String: String] = [:]) {
        defer { depth += 1 }
        guard namespaceURI == XHTMLFormat.namespace else { return fail(parser, "<\(elementName)> is not in the XHTML namespace") }
        if depth == 0 {
            guard elementName == "div" else { return fail(parser, XHTMLFormat.requirement) }
            sawRoot = true
        }
        guard XHTMLFormat.elements.contains(elementName) else { return fail(parser, "txt-1: <\(elementName)> is not allowed in a narrative") }
        if elementName == "img" { hasContent = true }
        for (name, value) in attributeDict {
            let lowered = name.lowercased()
            guard XHTMLFormat.attributes.contains(lowered) || XHTMLFormat.elementAttributes[elementName]?.contains(lowered) == true else {
                return fail(parser, "txt-1: the attribute '\(name)' is not allowed on <\(elementName)>")
            }
            if (lowered == "href" || lowered == "src"), XHTMLFormat.isActive(value, element: elementName) {
                return fail(parser, "txt-1: <\(elementName) \(name)> may not point at active content")
            }
            if lowered == "style" {
                let style = value.lowercased()
                if ["expression", "javascript:", "behavior", "-moz-binding", "url("].contains(where: style.contains) {
                    return fail(parser, "txt-1: a style may not load or run anything")
                }
            }
        }
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
        depth -= 1
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if depth > 0, string.contains(where: { !$0.isWhitespace }) { hasContent = true }
    }

    func parser(_ parser: XMLParser, foundProcessingInstructionWithTarget target: String, data: String?) {
        fail(parser, "a narrative may not contain processing instructions")
    }

    func parser(_ parser: XMLParser, foundInternalEntityDeclarationWithName name: String, value: String?) {
        fail(parser, "a narrative may not declare entities")
    }

    func parser(_ parser: XMLParser, foundExternalEntityDeclarationWithName name: String, publicID: String?, systemID: String?) {
        fail(parser, "a narrative may not declare entities")
    }

    func parser(_ parser: XMLParser, resolveExternalEntityName name: String, systemID: String?) -> Data? {
        fail(parser, "a narrative may not refer to external entities")
        return nil
    }
}

/// The narrative check as the validator applies it, for tests and fuzzing.
public enum XHTMLFormatProbe {
    public static func accepts(_ text: String) -> Bool { XHTMLFormat.problem(text) == nil }
}
