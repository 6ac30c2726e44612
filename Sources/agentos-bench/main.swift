// The in-process parts of scripts/bench.
//   agentos-bench engine [RUNS [WAY…]]
//       the engine on a small job; ways: cold, forked, warm, unsandboxed (default all)
//   agentos-bench instant ENDPOINT TOKEN_FILE WORKERS SLOTS JOBS
//       fake cloud workers that answer every job at once; prints the rate once JOBS are answered
//       (ENDPOINT may name several servers, comma-separated: the workers spread over them)
//   agentos-bench idle ENDPOINT TOKEN_FILE WORKERS SECONDS
//       fake cloud workers that only connect and heartbeat, for SECONDS
// With AGENTOS_SERVER_KEY (the server's key or its file) the fake workers speak CURVE.
import Foundation

func usage() -> Never {
    FileHandle.standardError.write(Data("""
        usage: agentos-bench engine [RUNS [cold|forked|warm|unsandboxed…]]
               agentos-bench instant ENDPOINT TOKEN_FILE WORKERS SLOTS JOBS
               agentos-bench idle ENDPOINT TOKEN_FILE WORKERS SECONDS

        """.utf8))
    exit(2)
}

func token(from path: String) throws -> String {
    try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
}

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "engine":
    let ways = arguments.dropFirst(2).map { name -> EngineWay in
        guard let way = EngineWay(rawValue: name) else { usage() }
        return way
    }
    try await benchEngine(runs: arguments.count > 1 ? Int(arguments[1]) ?? 100 : 100, ways: ways.isEmpty ? EngineWay.allCases : ways)
case "instant":
    guard arguments.count == 6, let workers = Int(arguments[3]), let slots = Int(arguments[4]), let jobs = Int(arguments[5]) else { usage() }
    let secret = try token(from: arguments[2])
    try FakeWorkerFleet(
        endpoint: arguments[1], token: secret, workers: workers, slots: slots,
        answerJobs: true, stopAfterJobs: jobs, stopAfterSeconds: nil, curve: try .fromEnvironment(token: secret)
    ).run()
case "idle":
    guard arguments.count == 5, let workers = Int(arguments[3]), let seconds = Double(arguments[4]) else { usage() }
    let secret = try token(from: arguments[2])
    try FakeWorkerFleet(
        endpoint: arguments[1], token: secret, workers: workers, slots: 1,
        answerJobs: false, stopAfterJobs: nil, stopAfterSeconds: seconds, curve: try .fromEnvironment(token: secret)
    ).run()
default:
    usage()
}
