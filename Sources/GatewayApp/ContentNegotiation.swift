import FHIRModels

/// Picks the response media type from `_format` and `Accept`; JSON is all the gateway writes today.
enum ContentNegotiation {
    static let fhirJSON = "application/fhir+json; charset=utf-8"
    static let plainJSON = "application/json; charset=utf-8"

    static func responseType(format: String?, accept: String?) throws(FHIRError) -> String {
        if let format {
            switch format {
            case "json", "application/json": return format == "json" ? fhirJSON : plainJSON
            case "application/fhir+json", "application/json+fhir": return fhirJSON
            default: throw FHIRError(status: 406, code: .notSupported, "_format '\(format)' is not supported; use json")
            }
        }
        guard let accept, !accept.trimmingCharacters(in: .whitespaces).isEmpty else { return fhirJSON }
        var best: (type: String, quality: Double)?
        for entry in accept.split(separator: ",") {
            let parts = entry.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let media = parts.first else { continue }
            var quality = 1.0
            for parameter in parts.dropFirst() where parameter.hasPrefix("q=") {
                quality = Double(parameter.dropFirst(2)) ?? 0
            }
            guard quality > 0 else { continue }
            let chosen: String?
            switch media {
            case "application/fhir+json", "application/json+fhir", "*/*", "application/*": chosen = fhirJSON
            case "application/json": chosen = plainJSON
            default: chosen = nil
            }
            if let chosen, quality > (best?.quality ?? 0) { best = (chosen, quality) }
        }
        guard let best else {
            throw FHIRError(status: 406, code: .notSupported, "none of the Accept media types can be served; use application/fhir+json")
        }
        return best.type
    }
}

private extension String {
    func trimmingCharacters(in set: Set<Character>) -> String {
        var text = Substring(self)
        while let first = text.first, set.contains(first) { text = text.dropFirst() }
        while let last = text.last, set.contains(last) { text = text.dropLast() }
        return String(text)
    }
}

private extension Set where Element == Character {
    static let whitespaces: Set<Character> = [" ", "\t"]
}

private extension Substring {
    func trimmingCharacters(in set: Set<Character>) -> String { String(self).trimmingCharacters(in: set) }
}
