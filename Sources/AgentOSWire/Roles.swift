/// The roles of the access model (SPEC §5) and of chat messages: one definition, shared by
/// the store, the API types and the clients.

/// A system role: admins can do everything; users act through project membership.
public enum SystemRole: String, Codable, Sendable, CaseIterable {
    case admin
    case user
}

/// A team role: owners manage the team and own its projects.
public enum TeamRole: String, Codable, Sendable, CaseIterable {
    case owner
    case member
}

/// A project role, ordered `viewer < runner < editor < owner`.
public enum ProjectRole: String, Codable, Sendable, CaseIterable, Comparable {
    case viewer
    case runner
    case editor
    case owner

    private var rank: Int {
        switch self {
        case .viewer: 0
        case .runner: 1
        case .editor: 2
        case .owner: 3
        }
    }

    public static func < (lhs: ProjectRole, rhs: ProjectRole) -> Bool { lhs.rank < rhs.rank }
}

/// Who speaks a chat message.
public enum MessageRole: String, Codable, Sendable, CaseIterable {
    case system, user, assistant, tool
}
