/// A skill's `requirements` (requirements.txt text) as the engine installs them: one PEP 508
/// requirement per line — a name, optional extras, version specifiers and an environment
/// marker. pip options (`-r`, `--index-url`, `-e` …), paths and URLs are refused: they would
/// let a skill read files or reach hosts of its choosing while its environment is built.
public struct PythonRequirements: Sendable, Equatable {
    /// The requirements in a canonical form, sorted and unique: the name normalized (PEP 503),
    /// extras and version clauses sorted, spaces dropped, so that the same set in any order or
    /// layout is the same environment.
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
            guard let canonical = Self.canonical(trimmed) else { throw Invalid(line: trimmed) }
            lines.insert(canonical)
        }
        self.lines = lines.sorted()
    }

    static let operators = ["===", "~=", "==", "!=", "<=", ">=", "<", ">"]

    /// `line` in canonical form, or nil unless it is a plain PEP 508 requirement (no URL form).
    static func canonical(_ line: String) -> String? {
        let (requirement, marker) = line.splitOnce(";")
        if let marker {
            // Markers compare environment names with quoted strings: nothing that could be an option or a URL.
            guard !marker.isEmpty, marker.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || " _.<>=!~'\"()-".contains($0)) }) else { return nil }
        }
        var rest = Substring(requirement)
        let name = rest.prefix { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
        guard let first = name.first, let last = name.last, first.isLetter || first.isNumber, last.isLetter || last.isNumber,
              name.count <= 200 else { return nil }
        rest = rest.dropFirst(name.count).drop { $0 == " " }
        var extras: [String] = []
        if rest.first == "[" {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            for extra in rest[rest.index(after: rest.startIndex)..<close].split(separator: ",") {
                let trimmed = extra.trimmingWhitespace()
                guard !trimmed.isEmpty, trimmed.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) else { return nil }
                extras.append(normalized(trimmed))
            }
            rest = rest[rest.index(after: close)...].drop { $0 == " " }
        }
        var clauses: [String] = []
        if !rest.isEmpty {
            for clause in rest.split(separator: ",", omittingEmptySubsequences: false) {
                let text = clause.trimmingWhitespace()
                guard let op = operators.first(where: { text.hasPrefix($0) }) else { return nil }
                let version = text.dropFirst(op.count).trimmingWhitespace()
                guard !version.isEmpty, version.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || ".*+!_-".contains($0)) }) else { return nil }
                clauses.append(op + version)
            }
        }
        var canonical = normalized(String(name))
        if !extras.isEmpty { canonical += "[" + Set(extras).sorted().joined(separator: ",") + "]" }
        canonical += clauses.sorted().joined(separator: ",")
        if let marker { canonical += "; " + marker.split(separator: " ").joined(separator: " ") }
        return canonical
    }

    /// A name as PEP 503 compares them: lower case, each run of `-`, `_` and `.` one `-`.
    static func normalized(_ name: String) -> String {
        var result = ""
        var inSeparator = false
        for character in name.lowercased() {
            if "-_.".contains(character) {
                if !inSeparator { result.append("-") }
                inSeparator = true
            } else {
                result.append(character)
                inSeparator = false
            }
        }
        return result
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
