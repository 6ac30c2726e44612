extension String {
    /// Whether the text holds U+0000, which a SQLite text column cannot keep (it ends the
    /// value there).
    public var containsNUL: Bool { utf8.contains(0) }

    /// The text with each U+0000 read as U+FFFD, as output that is not text is: job output
    /// is stored as text, and a silent cut at the first NUL would lose the rest of it.
    public var replacingNUL: String {
        containsNUL ? String(String.UnicodeScalarView(unicodeScalars.map { $0 == "\0" ? "\u{FFFD}" : $0 })) : self
    }
}
