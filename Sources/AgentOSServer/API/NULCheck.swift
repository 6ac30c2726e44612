import AgentOSWire
import Foundation

/// Finds text fields holding U+0000 in a decoded request body. The store keeps text in SQLite
/// columns, which end a value at its first NUL, so such a field is refused with a 400 naming
/// it rather than stored cut. JSON values (`inputs`, `result`, `params`, schemas) are stored
/// as JSON text, where NUL is escaped and kept, so they are not searched. Nor is the output a
/// desktop's run record carries (`outputFields`): output is not always text, and is stored with
/// each NUL read as U+FFFD, as the server stores workers' results.
enum NULCheck {
    /// How JSON writes U+0000 in a string (the only way it may).
    static let escapedNUL = Data("\\u0000".utf8)

    /// Fields holding a job's output, which keep their NULs as U+FFFD instead.
    static let outputFields: Set<String> = ["stdout", "stderr", "error"]

    /// The path of the first string field (or dictionary key) holding NUL, e.g. `runs[2].code`.
    static func firstNUL(in value: Any) -> String? {
        search(value, path: "", skipped: outputFields, depth: 0)
    }

    private static func search(_ value: Any, path: String, skipped: Set<String>, depth: Int) -> String? {
        if let text = value as? String { return text.containsNUL ? path : nil }
        if value is JSONValue || value is Date || value is Data || depth > 32 { return nil }
        let mirror = Mirror(reflecting: value)
        switch mirror.displayStyle {
        case .optional:
            return mirror.children.first.flatMap { search($0.value, path: path, skipped: skipped, depth: depth + 1) }
        case .collection, .set:
            for (index, child) in mirror.children.enumerated() {
                if let found = search(child.value, path: "\(path)[\(index)]", skipped: skipped, depth: depth + 1) { return found }
            }
            return nil
        case .dictionary:
            for entry in mirror.children {
                let pair = Array(Mirror(reflecting: entry.value).children)
                guard pair.count == 2 else { continue }
                let key = pair[0].value as? String ?? "\(pair[0].value)"
                let keyPath = path.isEmpty ? key : "\(path).\(key)"
                if key.containsNUL { return path.isEmpty ? "a key" : "a key of \(path)" }
                if let found = search(pair[1].value, path: keyPath, skipped: skipped, depth: depth + 1) { return found }
            }
            return nil
        case .struct, .class, .enum, .tuple:
            for child in mirror.children {
                // A property wrapper's storage is `_name`.
                let label = child.label.map { snakeCase($0.hasPrefix("_") ? String($0.dropFirst()) : $0) }
                if let label, skipped.contains(label) { continue }
                let childPath = label.map { path.isEmpty ? $0 : "\(path).\($0)" } ?? path
                if let found = search(child.value, path: childPath, skipped: skipped, depth: depth + 1) { return found }
            }
            return nil
        default:
            return nil
        }
    }

    /// `inputSchema` → `input_schema`, as the API names fields.
    private static func snakeCase(_ name: String) -> String {
        var result = ""
        for character in name {
            if character.isUppercase {
                result += "_" + character.lowercased()
            } else {
                result.append(character)
            }
        }
        return result
    }
}
