import AgentOSStore
import AgentOSWire

/// What a caller does inside a project. The one permission table: every API request and
/// every job is checked against it.
enum ProjectAction: String, CaseIterable, Sendable {
    /// Read the project, its skills, jobs, sessions, files, agents and providers (no secrets).
    case read
    /// Submit jobs.
    case submitJob
    /// Cancel jobs one submitted oneself.
    case cancelOwnJob
    /// Write chat sessions and messages.
    case writeSession
    /// Post run records from a desktop.
    case writeRunRecord
    /// Read a provider's API key.
    case revealSecret
    /// Cancel anyone's job.
    case cancelAnyJob
    /// Create skills and versions.
    case writeSkill
    /// Create and change agents.
    case writeAgent
    /// Create and change providers.
    case writeProvider
    /// Upload and delete files.
    case writeFile
    /// Add, change and remove members.
    case manageMembers
    /// Delete the project.
    case deleteProject

    /// The least project role allowed to do this. System admins may do everything.
    var minimumRole: ProjectRole {
        switch self {
        case .read: .viewer
        case .submitJob, .cancelOwnJob, .writeSession, .writeRunRecord, .revealSecret: .runner
        case .cancelAnyJob, .writeSkill, .writeAgent, .writeProvider, .writeFile: .editor
        case .manageMembers, .deleteProject: .owner
        }
    }
}

/// The caller's standing in one project.
struct ProjectAccess: Sendable {
    let project: Project
    /// Their effective role; nil for an admin who is not a member.
    let role: ProjectRole?
    let isAdmin: Bool

    /// Whether the table allows `action`.
    func allows(_ action: ProjectAction) -> Bool {
        isAdmin || (role.map { $0 >= action.minimumRole } ?? false)
    }

    /// The highest job priority the caller may give: a runner may lower its jobs' priority but
    /// not raise it, an editor may raise it to 100, an owner or an admin to 1000, so a
    /// priority that jumps every queue is a decision of the people who run the project.
    var highestPriority: Int {
        if isAdmin { return 1000 }
        switch role {
        case .owner: return 1000
        case .editor: return 100
        default: return 0
        }
    }

    /// Throws 403 unless the table allows `action`.
    func require(_ action: ProjectAction) throws(APIError) {
        guard allows(action) else {
            throw APIError.forbidden("this needs the \(action.minimumRole.rawValue) role in project \(project.name)")
        }
    }
}
