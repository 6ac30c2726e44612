/// The software version every component reports.
public enum AgentOSVersion {
    /// Semantic version of this build.
    public static let current = "0.1.0"
}
