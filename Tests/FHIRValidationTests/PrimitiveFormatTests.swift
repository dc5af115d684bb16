import FHIRModels
import Testing
@testable import FHIRValidation

/// The primitive grammars implemented in `PrimitiveFormat` against the R4 regexes of the generated table.
@Suite struct PrimitiveFormatTests {
    /// Values tried against every primitive type: each must be accepted by the native grammar exactly when
    /// the type's regex matches it.
    static let samples: [String] = [
        "", " ", "a", "final", "entered-in-error", " final", "final ", "a  b", "a b", "a\tb", "a\nb", "a\u{0B}b", "a\u{0C}b",
        "line one\r\nline two", "Hämoglobin [Masse/Volumen]", "x\u{00A0}y", "true", "false", "True", "1", "0", "-0", "01", "-1",
        "+1", "1.5", "1.", ".5", "-1.50", "1e3", "1E-3", "1.5e+10", "2147483647", "abc", "cbc-hemoglobin", "a.b-c",
        "a_b", String(repeating: "a", count: 64), String(repeating: "a", count: 65), "http://loinc.org", "urn:oid:2.16.840.1.113883.6.238",
        "urn:oid:2.16.840.1.113883.06", "urn:oid:3.1", "urn:oid:1", "urn:uuid:6e8ac7c4-5f8b-4b4c-9bd2-3a1a4d3f0f6e",
        "urn:uuid:6E8AC7C4-5F8B-4B4C-9BD2-3A1A4D3F0F6E", "urn:uuid:6e8ac7c45f8b4b4c9bd23a1a4d3f0f6e", "QUJD", "QUJDRA==",
        "QUJD RA==", " QUJD\nRA== ", "QU JD", "QUJ", "QUJDR", "2005", "0000", "2005-07", "2005-7", "2005-13", "2005-07-05",
        "2005-07-32", "2005-07-05T11:45:00Z", "2005-07-05T11:45:00.597+00:00", "2005-07-05T11:45:00-06:00",
        "2005-07-05T11:45:60+14:00", "2005-07-05T11:45:00+14:30", "2005-07-05T11:45:00", "2005-07-05T11:45Z",
        "2005-07-05T24:00:00Z", "2005-07T11:45:00Z", "2005-07-05 11:45:00Z", "11:45:00", "11:45:00.5", "11:45", "23:59:60",
        "24:00:00", "11:45:00Z",
    ]

    static let patternTypes: [String] = R4Definitions.primitives.filter { $0.value.pattern != nil }.keys.sorted()

    @Test(arguments: patternTypes)
    func grammarMatchesTheRegex(_ type: String) throws {
        let pattern = try #require(R4Definitions.primitives[type]?.pattern)
        // `\s` as ASCII whitespace (Java's reading), matched on Unicode scalars.
        let regex = try Regex(pattern).asciiOnlyWhitespace().matchingSemantics(.unicodeScalar)
        for sample in Self.samples {
            let expected = (try? regex.wholeMatch(in: sample)) != nil
            #expect(PrimitiveFormat.matchesGrammar(sample, type: type) == expected, "\(type): \(sample.debugDescription)")
        }
    }

    @Test func everyPrimitiveHasAKindAndAllButXHTMLAPattern() {
        #expect(R4Definitions.primitives.count == 20)
        #expect(R4Definitions.primitives.filter { $0.value.pattern == nil }.keys.sorted() == ["xhtml"])
        #expect(R4Definitions.primitives["decimal"]?.json == .number)
        #expect(R4Definitions.primitives["boolean"]?.json == .boolean)
        #expect(R4Definitions.primitives["dateTime"]?.json == .string)
    }

    /// What the regexes cannot say, checked on top of them.
    @Test func checksBeyondTheRegexes() {
        func valid(_ value: JSON, _ type: String) -> Bool { PrimitiveFormat.problem(value, type: type) == nil }
        #expect(valid(.string("2024-02-29"), "date"))
        #expect(!valid(.string("2023-02-29"), "date"))
        #expect(!valid(.string("2023-04-31T10:00:00Z"), "dateTime"))
        #expect(!valid(.string("1900-02-29T10:00:00Z"), "instant"))
        #expect(valid(.string("2000-02-29T10:00:00Z"), "instant"))
        #expect(valid(.number("-2147483648"), "integer"))
        #expect(!valid(.number("2147483648"), "integer"))
        #expect(!valid(.number("2147483648"), "unsignedInt"))
        #expect(!valid(.number("0"), "positiveInt"))
        #expect(valid(.number("0"), "unsignedInt"))
        #expect(!valid(.string("a\u{01}b"), "string"))
        #expect(valid(.string("a\tb\r\nc"), "markdown"))
        #expect(valid(.string("Medical Record Number:\u{00A0}1032702"), "string"))
        #expect(!valid(.string("=AAA"), "base64Binary"), "padding only at the end")
        #expect(!valid(.string("QUJDRA==QUJD"), "base64Binary"))
        #expect(!valid(.string(String(repeating: "a", count: PrimitiveFormat.maximumStringBytes + 1)), "string"))
    }

    @Test func jsonKinds() {
        #expect(PrimitiveFormat.problem(.string("true"), type: "boolean")?.code == .structure)
        #expect(PrimitiveFormat.problem(.string("1"), type: "decimal")?.code == .structure)
        #expect(PrimitiveFormat.problem(.number("1"), type: "string")?.code == .structure)
        #expect(PrimitiveFormat.problem(.bool(true), type: "code")?.code == .structure)
        #expect(PrimitiveFormat.problem(.object(JSONObject()), type: "uri")?.code == .structure)
        #expect(PrimitiveFormat.problem(.string(""), type: "uri")?.code == .value)
        #expect(PrimitiveFormat.problem(.number("1.0"), type: "integer")?.code == .value)
    }

    @Test func narrativeDiv() {
        let ns = #"xmlns="http://www.w3.org/1999/xhtml""#
        for valid in [#"<div \#(ns)><p>x</p></div>"#, #" <div class="a" xmlns='http://www.w3.org/1999/xhtml'>x</div>"#,
                      #"<div \#(ns)><a href="https://example.org/a?b=1&amp;c=2" title="t">link</a> <img src="img.png" alt="i"/></div>"#,
                      #"<div \#(ns)><table border="1"><tr><td colspan="2" style="color:red">7.10 g/dL</td></tr></table></div>"#] {
            #expect(XHTMLFormat.problem(valid) == nil, "\(valid)")
        }
        let hostile = [
            "<div>x</div>", #"<divx \#(ns)>x</divx>"#, #"<p \#(ns)>x</p>"#, #"<div \#(ns)></div>"#, #"<div \#(ns)>  </div>"#,
            #"<div \#(ns)><script>alert(1)</script></div>"#, #"<div \#(ns)><b onclick="alert(1)">x</b></div>"#,
            #"<div \#(ns)><img src="x" onerror="alert(1)"/></div>"#, #"<div \#(ns)><a href="javascript:alert(1)">x</a></div>"#,
            #"<div \#(ns)><a href=" JaVaScRiPt:alert(1)">x</a></div>"#, #"<div \#(ns)><iframe src="https://x"/>x</div>"#,
            #"<div \#(ns)><form action="https://x">x</form></div>"#, #"<div \#(ns)><object data="x">x</object></div>"#,
            #"<div \#(ns)><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>x</div>"#, #"<div \#(ns)><b>x</i></div>"#,
            #"<div \#(ns)><p style="background:url(javascript:alert(1))">x</p></div>"#,
            #"<!DOCTYPE div [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><div \#(ns)>&xxe;</div>"#,
            #"<div \#(ns)><?php echo 1 ?>x</div>"#, #"<div \#(ns)><img src="data:image/svg+xml;base64,PHN2Zy8+" alt="x"/></div>"#,
        ]
        for text in hostile { #expect(XHTMLFormat.problem(text) != nil, "\(text)") }
    }
}
