@testable import AgentOSDesktop
import AgentOSSandbox
import Foundation
import Testing

/// `desktop attach --dir PATH[:rw]…`: real folders, distinct names, a bounded number.
@Suite struct SharedFoldersArgumentTests {
    @Test func foldersAreResolvedNamedAndChecked() throws {
        let root = NSTemporaryDirectory() + "agentos-dirs-" + UUID().uuidString.prefix(8).lowercased()
        defer { try? FileManager.default.removeItem(atPath: root) }
        for path in ["a/photos", "b/photos", "out"] {
            try FileManager.default.createDirectory(atPath: root + "/" + path, withIntermediateDirectories: true)
        }
        let real = URL(fileURLWithPath: root).resolvingSymlinksInPath().path
        let folders = try DesktopAttach.sharedFolders(["a/photos", "out:rw"], relativeTo: root)
        #expect(folders.map { [$0.name, $0.path, "\($0.writable)"] } == [["photos", real + "/a/photos", "false"], ["out", real + "/out", "true"]])
        #expect(folders.allSatisfy { $0.identity != nil }, "each is known by its device and inode")
        #expect(try DesktopAttach.sharedFolders([], relativeTo: root) == [])

        func refusal(_ arguments: [String]) -> String? {
            do {
                _ = try DesktopAttach.sharedFolders(arguments, relativeTo: root)
                return nil
            } catch {
                return "\(error)"
            }
        }
        #expect(refusal(["a/photos", "b/photos:rw"])?.contains("would both be /mnt/photos") == true)
        #expect(refusal(["missing"])?.contains("no folder at") == true)
        #expect(refusal(Array(repeating: "out", count: 65))?.contains("at most 64 folders") == true)
    }
}
