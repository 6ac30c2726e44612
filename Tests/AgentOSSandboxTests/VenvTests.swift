@testable import AgentOSSandbox
import AgentOSWire
import Foundation
import Testing

/// Per-requirements virtual environments, installed offline from wheels this test makes.
@Suite struct VenvTests {
    let wheels: String

    init() async throws {
        wheels = TestEngines.temporaryDirectory("agentos-wheels")
        try FileManager.default.createDirectory(atPath: wheels, withIntermediateDirectories: true)
        // Real wheels, written by Python's zipfile through an unsandboxed engine.
        let maker = try TestEngines.make(.none)
        let made = await maker.run(Self.makeWheels, inputs: ["directory": .string(wheels), "names": ["alpha", "beta"]])
        #expect(made.status == .succeeded, "\(made)")
    }

    func engine(state: String? = nil, configure: (inout SandboxConfiguration) -> Void = { _ in }) throws -> SandboxEngine {
        try TestEngines.sandboxed { configuration in
            configuration.venvs.findLinks = [wheels]
            configuration.venvs.noIndex = true
            if let state { configuration.stateDirectory = state }
            configure(&configuration)
        }
    }

    static let probe = """
        import importlib
        def main():
            found = {}
            for name in ["aospkg_alpha", "aospkg_beta"]:
                try:
                    found[name] = importlib.import_module(name).VALUE
                except ImportError:
                    found[name] = None
            import sys
            return {"found": found, "prefix": sys.prefix}
        """

    @Test func requirementSetsAreIsolatedFromEachOther() async throws {
        let engine = try engine()
        let alpha = await engine.run(Self.probe, requirements: "aospkg-alpha==1.0")
        #expect(alpha.result?["found"] == ["aospkg_alpha": "alpha", "aospkg_beta": .null], "\(alpha)")
        #expect(alpha.result?["prefix"] == "/venv")
        let beta = await engine.run(Self.probe, requirements: "# comment\naospkg-beta\n")
        #expect(beta.result?["found"] == ["aospkg_alpha": .null, "aospkg_beta": "beta"], "\(beta)")
        let none = await engine.run(Self.probe)
        #expect(none.result?["found"] == ["aospkg_alpha": .null, "aospkg_beta": .null], "\(none)")
        // The same set in another order or layout is the same environment: no third build.
        let both1 = await engine.run(Self.probe, requirements: "aospkg-alpha\naospkg-beta")
        let both2 = await engine.run(Self.probe, requirements: "aospkg-beta  \n\naospkg-alpha # again")
        #expect(both1.result?["found"] == ["aospkg_alpha": "alpha", "aospkg_beta": "beta"])
        #expect(both2.result == both1.result)
        #expect(engine.venvBuilds == 3)
        // A job cannot change its environment for the next one.
        let tamper = await engine.run("import aospkg_alpha, os\ndef main():\n    open(aospkg_alpha.__file__, 'w').write('VALUE = 1')", requirements: "aospkg-alpha==1.0")
        #expect(tamper.error?.contains("Read-only file system") == true, "\(tamper)")
    }

    @Test func concurrentFirstUseBuildsOnce() async throws {
        // Two engines on one state directory: two worker processes sharing a cache.
        let state = TestEngines.temporaryDirectory("agentos-shared-cache")
        let first = try engine(state: state)
        let second = try engine(state: state)
        let outcomes = await withTaskGroup(of: JobOutcome.self) { group in
            for index in 0..<6 {
                let engine = index % 2 == 0 ? first : second
                group.addTask { await engine.run(Self.probe, requirements: "aospkg-alpha") }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        for outcome in outcomes {
            #expect(outcome.result?["found"]?["aospkg_alpha"] == "alpha", "\(outcome)")
        }
        #expect(first.venvBuilds + second.venvBuilds == 1)
    }

    @Test func aFailedInstallFailsTheJobWithPipsLastLines() async throws {
        let engine = try engine()
        let outcome = await engine.run(Self.probe, requirements: "aospkg-gamma==9.9")
        #expect(outcome.status == .failed)
        #expect(outcome.error?.hasPrefix("dependency_install_failed: pip failed installing aospkg-gamma==9.9") == true, "\(outcome.error ?? "")")
        #expect(outcome.error?.contains("No matching distribution found for aospkg-gamma==9.9") == true)
        // Nothing half-built is kept: the next try builds again (and fails again).
        let again = await engine.run(Self.probe, requirements: "aospkg-gamma==9.9")
        #expect(again.error?.hasPrefix("dependency_install_failed") == true)
        #expect(engine.venvBuilds == 0)

        let refused = await engine.run(Self.probe, requirements: "-r /etc/shadow")
        #expect(refused.error?.hasPrefix("invalid_requirements: requirement \"-r /etc/shadow\" is not allowed") == true, "\(refused.error ?? "")")
        for line in ["--index-url http://10.0.0.1/simple pkg", "pkg @ https://example.com/pkg.whl", "./local", "/abs/path", "git+https://x/y"] {
            #expect(throws: PythonRequirements.Invalid.self, "\(line)") { try PythonRequirements(parsing: line) }
        }
        for line in ["requests>=2.31,<3", "numpy==1.26.*", "Pillow[extra1, extra2] ~= 10.0", "tomli; python_version < \"3.11\""] {
            #expect(throws: Never.self, "\(line)") { try PythonRequirements(parsing: line) }
        }
        for line in ["six====", "six==", "six 1.0", "six>=1,", "six[", "-six", "six_"] {
            #expect(throws: PythonRequirements.Invalid.self, "\(line)") { try PythonRequirements(parsing: line) }
        }
        // One environment for one set, however it is written.
        let written = try PythonRequirements(parsing: "Six == 1.15.0\nrequests[socks,security] >=2.31, <3 ; python_version >= \"3.8\"")
        let reordered = try PythonRequirements(parsing: "requests[Security,socks]<3,>=2.31;python_version >= \"3.8\"\nsix==1.15.0")
        #expect(written == reordered)
        #expect(written.lines == ["requests[security,socks]<3,>=2.31; python_version >= \"3.8\"", "six==1.15.0"])
    }

    @Test func environmentsAreEvictedBySizeAndAgeButNotWhileInUse() async throws {
        let engine = try engine { $0.venvs.maxBytes = 1 }
        let venvs = engine.venvs
        _ = await engine.run(Self.probe, requirements: "aospkg-alpha")
        let alphaPath = venvs.root + "/" + venvs.key(try PythonRequirements(parsing: "aospkg-alpha"))
        #expect(FileManager.default.fileExists(atPath: alphaPath))
        // Building beta puts the cache over its (tiny) size: alpha, unused now, goes.
        let beta = await engine.run(Self.probe, requirements: "aospkg-beta")
        #expect(beta.result?["found"]?["aospkg_beta"] == "beta")
        #expect(!FileManager.default.fileExists(atPath: alphaPath))
        // Alpha again: built anew, and its fork server, which had the evicted one, is replaced.
        let alphaAgain = await engine.run(Self.probe, requirements: "aospkg-alpha")
        #expect(alphaAgain.result?["found"]?["aospkg_alpha"] == "alpha", "\(alphaAgain)")
        #expect(engine.isForking && engine.coldStarts == 0, "every job was forked")

        // Beta in use (a job holds it) is never evicted.
        let betaPath = venvs.root + "/" + venvs.key(try PythonRequirements(parsing: "aospkg-beta"))
        do {
            let lease = try venvs.lease(try PythonRequirements(parsing: "aospkg-beta"))
            venvs.evict()
            #expect(FileManager.default.fileExists(atPath: betaPath))
            withExtendedLifetime(lease) {}
        }

        // By age: an engine that keeps environments for no time at all evicts beta at start.
        let strict = try self.engine(state: engine.configuration.stateDirectory) { $0.venvs.maxAge = .zero }
        #expect(!FileManager.default.fileExists(atPath: betaPath))
        withExtendedLifetime(strict) {}
    }

    /// Writes pure-Python wheels `aospkg_<name>-1.0-py3-none-any.whl` with `VALUE = "<name>"`.
    static let makeWheels = """
        import base64, hashlib, os, zipfile
        def main(directory, names):
            for name in names:
                package, dist = "aospkg_" + name, "aospkg_" + name + "-1.0.dist-info"
                files = {
                    package + "/__init__.py": 'VALUE = "%s"\\n' % name,
                    dist + "/METADATA": "Metadata-Version: 2.1\\nName: aospkg-%s\\nVersion: 1.0\\n" % name,
                    dist + "/WHEEL": "Wheel-Version: 1.0\\nGenerator: agentos-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
                }
                record = []
                for path, text in files.items():
                    digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
                    record.append("%s,sha256=%s,%d" % (path, digest, len(text.encode())))
                record.append(dist + "/RECORD,,")
                files[dist + "/RECORD"] = "\\n".join(record) + "\\n"
                with zipfile.ZipFile(os.path.join(directory, package + "-1.0-py3-none-any.whl"), "w") as wheel:
                    for path, text in files.items():
                        wheel.writestr(path, text)
        """
}
