/// A skill's `requirements` (requirements.txt text) as the engine installs them: one PEP 508
/// requirement per line — a name, optional extras, version specifiers and an environment
/// marker. pip options (`-r`, `--index-url`, `-e` …), paths and URLs are refused: they would
/// let a skill read files or reach hosts of its choosing while its environment is built.
public struct PythonRequirements: Sendable, Equatable {
    /// The requirement lines, trimmed, without comments or blank lines, sorted and unique:
    /// the same set in any order or layout is the same environment.
    public let lines: [String]

    /// A requirement line the engine will not install.
    public struct Invalid: Error, CustomStringConvertible, Sendable {
        public let line: String
        public var description: String {
            "requirement \"\(line)\" is not allowed: give a package name with optional extras, versions and a marker (e.g. \"requests>=2.31\"), no pip options, paths or URLs"
        }
    }

    public var isEmpty: Bool { lines.isEmpty }

    /// Parses requirements.txt text.
    public init(parsing text: String) throws(Invalid) {
        var lines = Set<String>()
        for raw in text.split(whereSeparator: \.isNewline) {
            var line = Substring(raw)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let trimmed = line.trimmingWhitespace()
            guard !trimmed.isEmpty else { continue }
            guard Self.isAllowed(trimmed) else { throw Invalid(line: trimmed) }
            lines.insert(trimmed)
        }
        self.lines = lines.sorted()
    }

    /// Whether `line` is a plain PEP 508 requirement (no URL form).
    static func isAllowed(_ line: String) -> Bool {
        let (requirement, marker) = line.splitOnce(";")
        if let marker {
            // Markers compare environment names with quoted strings: nothing that could be an option or a URL.
            guard marker.allSatisfy({ $0.isLetter || $0.isNumber || " _.<>=!~'\"()-".contains($0) }) else { return false }
        }
        var rest = Substring(requirement)
        let name = rest.prefix { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
        guard let first = name.first, first.isLetter || first.isNumber, name.count <= 200 else { return false }
        rest = rest.dropFirst(name.count).drop { $0 == " " }
        if rest.first == "[" {
            guard let close = rest.firstIndex(of: "]") else { return false }
            let extras = rest[rest.index(after: rest.startIndex)..<close]
            guard extras.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-, ".contains($0)) }) else { return false }
            rest = rest[rest.index(after: close)...].drop { $0 == " " }
        }
        // Version specifiers: operators, versions, commas and spaces only.
        return rest.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "<>=!~*.,+_- ".contains($0)) }
            && (rest.isEmpty || "<>=!~".contains(rest.first!))
    }
}

fileprivate extension StringProtocol {
    func trimmingWhitespace() -> String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }

    func splitOnce(_ separator: Character) -> (String, String?) {
        guard let index = firstIndex(of: separator) else { return (String(self), nil) }
        return (String(self[..<index]).trimmingWhitespace(), String(self[self.index(after: index)...]).trimmingWhitespace())
    }
}
