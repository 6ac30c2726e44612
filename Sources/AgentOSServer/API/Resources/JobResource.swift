import AgentOSAPI
import AgentOSStore
import AgentOSWire
import Foundation

/// Submitting, watching, listing and cancelling jobs, and the run records desktops post.
struct JobResource: APIResource {
    static let operations: [APIOperation] = [.submitJob, .getJob, .getJobOutput, .listJobs, .cancelJob, .createRuns]

    let context: APIContext
    let watch: JobWatch
    let directory: WorkerDirectory
    let signals: any DispatchSignals
    let submits: GroupedSubmits
    let quotas: SubmitQuotas
    /// Counts the jobs a cancel ends here (the bus counts every other end).
    var metrics: ServerMetrics? = nil

    func respond(to request: APICall, as caller: Caller) async throws -> Reply {
        switch request.operation {
        case .submitJob: return try await submitJob(request, caller: caller)
        case .getJob: return try await getJob(request, caller: caller)
        case .getJobOutput: return try await getJobOutput(request, caller: caller)
        case .listJobs: return try listJobs(request, caller: caller)
        case .cancelJob: return try cancelJob(request, caller: caller)
        case .createRuns: return try createRuns(request, caller: caller)
        default: throw APIError.notFound("operation")
        }
    }

    /// Whether `earlier`, found by an idempotency key, is what `new` asks for: the same code
    /// or skill, inputs, placement, limits, session and folders (files are not compared). A skill named without a version is the same
    /// request even if its latest version has moved on since.
    static func sameRequest(_ earlier: Job, _ new: Job, versionGiven: Bool) -> Bool {
        let sameSource = new.skill != nil && !versionGiven
            ? earlier.skill == new.skill
            : earlier.code == new.code && earlier.skill == new.skill && earlier.skillVersion == new.skillVersion
        return sameSource && earlier.inputs == new.inputs && earlier.target == new.target
            && earlier.requestedWorker == new.requestedWorker && Set(earlier.labels) == Set(new.labels)
            && earlier.priority == new.priority && earlier.maxAttempts == new.maxAttempts
            && earlier.timeoutSeconds == new.timeoutSeconds && earlier.memoryMB == new.memoryMB
            && earlier.network == new.network && earlier.maxOutputBytes == new.maxOutputBytes
            && earlier.sessionID == new.sessionID && earlier.dirs == new.dirs
    }

    /// Largest encoded page of a job listing; items past it go to the next page.
    static let maxListBytes = 8 << 20

    func submitJob(_ request: APICall, caller: Caller) async throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        try access.require(.submitJob)
        let wait = try waitSeconds(request.params["wait"])
        let parsed = try JobRequest(request.body(Schemas.JobSubmit.self))
        let project = access.project
        let highest = access.highestPriority
        guard parsed.priority <= highest else {
            throw APIError.forbidden("priority \(parsed.priority) is above \(highest), the highest your role in project \(project.name) may give")
        }
        var reserved = false
        do {
            try quotas.admit(user: caller.user.id, project: project.id)
            reserved = true
        } catch {
            // A retry of a submit already accepted gets its job, whatever the quotas say now.
            guard let key = parsed.idempotencyKey,
                try store.job(projectID: project.id, submittedBy: caller.user.id, idempotencyKey: key) != nil
            else { throw error }
        }
        var queued = false
        defer { if reserved && !queued { quotas.release(user: caller.user.id, project: project.id) } }

        var job = Job(
            projectID: project.id, code: "", inputs: parsed.inputs, target: parsed.target, requestedWorker: parsed.worker,
            labels: parsed.labels, limits: JobLimits(), priority: parsed.priority, maxAttempts: parsed.maxAttempts,
            submittedBy: caller.user.id, idempotencyKey: parsed.idempotencyKey, dirs: parsed.dirs)
        var limits = parsed.limits
        switch parsed.source {
        case .code(let code):
            job.code = code
        case .skill(let name, let number):
            guard let skill = try store.skill(projectID: project.id, name: name) else {
                throw APIError(400, "unknown_skill", "project \(project.name) has no skill named \(name)")
            }
            guard let version = try store.skillVersion(skillID: skill.id, version: number ?? skill.latestVersion) else {
                throw APIError(400, "unknown_skill_version", "skill \(name) has no version \(number ?? 0); the latest is \(skill.latestVersion)")
            }
            if let schema = version.inputSchema {
                do {
                    try JSONSchema(schema).validate(.object(parsed.inputs))
                } catch let violation as JSONSchema.Violation {
                    var error = APIError(400, "invalid_inputs", "inputs\(violation.path): \(violation.message)")
                    error.path = "inputs" + violation.path
                    throw error
                }
            }
            job.code = version.code
            job.entrypoint = version.entrypoint
            job.requirements = version.requirements
            job.skill = skill.name
            job.skillVersion = version.version
            if let stored = version.limits {
                // Checked when the version was posted; read again as the limits type here.
                guard let skillLimits = try? APICoding.decode(Schemas.LimitsInput.self, from: stored) else {
                    throw APIError.invalid("skill \(name) version \(version.version) has limits this server cannot read; post a new version")
                }
                limits = limits.over(skillLimits)
            }
        }
        let resolved = limits.resolved
        if resolved.network, !project.allowNetwork {
            throw APIError(403, "network_not_allowed", "project \(project.name) does not let jobs use the network; an admin can allow it with `agentos projects update \(project.name) --allow-network` (PATCH /api/v1/projects/\(project.name) {\"allow_network\": true})")
        }
        job.timeoutSeconds = resolved.timeoutSeconds
        job.maxOutputBytes = resolved.maxOutputBytes
        job.memoryMB = resolved.memoryMB
        job.network = resolved.network
        if let sessionID = parsed.sessionID {
            guard let session = try store.chatSession(id: sessionID), session.projectID == project.id else {
                throw APIError.invalid("session \(sessionID) does not exist in project \(project.name)")
            }
            job.sessionID = session.id
        }
        var files: [JobFile] = []
        for requested in parsed.files {
            guard let file = try store.file(id: requested.id), file.projectID == project.id else {
                throw APIError.invalid("file \(requested.id) does not exist in project \(project.name)")
            }
            let name = requested.name ?? file.name
            guard !files.contains(where: { $0.name == name }) else {
                throw APIError.invalid("two files would both be named \(name) in the job's files/ directory")
            }
            files.append(JobFile(jobID: job.id, fileID: file.id, name: name, sha256: file.sha256, size: file.size))
        }

        let submitted = try await submits.submit(job, files: files)
        // A key names one request: reused for another, it is a mistake, not a retry.
        if !submitted.created, !Self.sameRequest(submitted.job, job, versionGiven: parsed.source.namesAVersion) {
            throw APIError.conflict("idempotency_key \(parsed.idempotencyKey ?? "") was used for a different job (\(submitted.job.id)); use a new key")
        }
        job = submitted.job
        let ticket = wait.map { _ in watch.register(job.id) }
        if submitted.created {
            signals.jobQueued(QueuedJob(job))
            queued = true
        }

        var warnings: [String] = []
        let connected = directory.workers
        if !connected.contains(where: { $0.canRun(job) }) {
            if job.target == .cloud, let requested = job.requestedWorker,
                connected.contains(where: { $0.kind == .private && ($0.name == requested || $0.workerID == requested) })
            {
                warnings.append("\(requested) is a private worker: submit with target \"private\" to run there; this job waits in the queue")
            } else {
                warnings.append(job.target == .private
                    ? "none of your private workers that can run this job is connected; it waits in the queue"
                    : "no connected cloud worker can run this job; it waits in the queue")
            }
        } else if !job.dirs.isEmpty, !connected.contains(where: { $0.canRun(job) && $0.shares(job.dirs) }) {
            warnings.append("""
                none of your connected private workers shares every folder in dirs (\(job.dirs.joined(separator: ", "))); \
                a desktop that does not fails the job with folder_not_shared: share them with agentos desktop attach --dir PATH
                """)
        }
        if let ticket, let wait, let finished = try await waitUntilEnded(ticket, seconds: wait), finished.status.isFinal {
            return try .ok(try jobBody(finished, project: project))
        }
        guard submitted.created, wait == nil else {
            // An earlier submit with the same key, or a wait that ran out: as the job is now.
            let current = try store.job(id: job.id) ?? job
            return try .status(submitted.created ? 202 : 200, try jobBody(current, project: project, warnings: warnings))
        }
        // Just written, with these files: nothing to read back.
        return try .status(202, Schemas.Job(job, projectName: project.name, files: files, warnings: warnings))
    }

    func jobBody(_ job: Job, project: Project, warnings: [String] = []) throws -> Schemas.Job {
        Schemas.Job(job, projectName: project.name, files: try store.jobFiles(jobID: job.id), warnings: warnings)
    }

    /// The job and the caller's access to its project; 404 when they may not see it.
    func visibleJob(_ id: String?, caller: Caller) throws -> (Job, ProjectAccess) {
        try visible("job", id, caller: caller, fetch: store.job(id:), projectID: \.projectID)
    }

    /// The job; with `?wait=SECONDS`, once it has ended or the wait is over (a long poll).
    func getJob(_ request: APICall, caller: Caller) async throws -> Reply {
        let wait = try waitSeconds(request.params["wait"])
        var (job, access) = try visibleJob(request.params["id"], caller: caller)
        if let wait, !job.status.isFinal {
            job = try await waitUntilEnded(watch.register(job.id), seconds: wait) ?? job
        }
        return try .ok(try jobBody(withLiveOutput(job), project: access.project))
    }

    /// A running job with the output its worker has streamed so far (the stored job has
    /// none until its `RESULT`); any other job as it is.
    func withLiveOutput(_ job: Job) -> Job {
        guard job.status == .running, let live = watch.live.snapshot(jobID: job.id), live.attempt == job.attempts else { return job }
        var job = job
        job.stdout = String(decoding: live.stdout, as: UTF8.self)
        job.stderr = String(decoding: live.stderr, as: UTF8.self)
        job.outputTruncated = job.outputTruncated || live.truncated
        return job
    }

    /// `jobs.output`: the job and its output after the caller's offsets; with `?wait`, a long
    /// poll that answers as soon as there is more output, the status or attempt differs from
    /// the caller's, the job has ended, or the wait is over.
    func getJobOutput(_ request: APICall, caller: Caller) async throws -> Reply {
        let wait = try waitSeconds(request.params["wait"])
        let attempt = try Self.count(request.params["attempt"], name: "attempt")
        let offsets = try (Self.count(request.params["stdout_offset"], name: "stdout_offset"),
                           Self.count(request.params["stderr_offset"], name: "stderr_offset"))
        var known: JobStatus?
        if let text = request.params["status"] {
            guard let status = JobStatus(rawValue: text) else {
                throw APIError.invalid("status must be one of \(JobStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            known = status
        }
        var (job, access) = try visibleJob(request.params["id"], caller: caller)
        let deadline = ContinuousClock.now + .milliseconds(Int((wait ?? 0) * 1000))
        while true {
            // Registered before the job is read, so a change in between is not missed.
            let ticket = wait.map { _ in watch.register(job.id, anyChange: true) }
            do {
                if ticket != nil { job = try store.job(id: job.id) ?? job }
            } catch {
                if let ticket { watch.forget(ticket) }
                throw error
            }
            let page = Self.page(of: withLiveOutput(job), project: access.project.name, attempt: attempt, offsets: offsets)
            let news = !page.stdout.isEmpty || !page.stderr.isEmpty || job.status.isFinal
                || (known != nil && job.status != known) || (attempt != nil && job.attempts != attempt)
            let left = deadline - ContinuousClock.now
            guard let ticket, !news, left > .zero else {
                if let ticket { watch.forget(ticket) }
                return try .ok(page)
            }
            await watch.wait(ticket, timeout: left)
        }
    }

    /// The page of `job`'s output after `offsets`, which count from the start of `attempt`'s
    /// output (from 0 when the job is on another attempt).
    static func page(of job: Job, project: String, attempt: Int?, offsets: (Int?, Int?)) -> Schemas.JobOutputPage {
        let sameAttempt = attempt == nil || attempt == job.attempts
        let streams = [job.stdout, job.stderr].map { Array($0.utf8) }
        let starts = [offsets.0, offsets.1].map { sameAttempt ? $0 ?? 0 : 0 }
        let texts = zip(streams, starts).map { bytes, start in
            start < bytes.count ? String(decoding: bytes[start...], as: UTF8.self) : ""
        }
        // Never back: output that ended shorter than what was streamed (it cannot, but the
        // RESULT is what counts) gives nothing more, not a repeat.
        let ends = zip(streams, starts).map { max($0.count, $1) }
        return Schemas.JobOutputPage(
            job: Schemas.Job(job, projectName: project, files: nil, withOutput: false), stdout: texts[0], stderr: texts[1],
            stdoutOffset: starts[0], stderrOffset: starts[1], nextStdoutOffset: ends[0], nextStderrOffset: ends[1])
    }

    /// A non-negative whole number from a query parameter, or nil when absent.
    static func count(_ text: String?, name: String) throws(APIError) -> Int? {
        guard let text else { return nil }
        guard let value = Int(text), value >= 0 else { throw .invalid("\(name) must be a whole number, 0 or more") }
        return value
    }

    /// Waits up to `seconds` for the ticket's job to end and returns it as it is then. The
    /// ticket is taken before this re-reads the job, so an end in between is not missed.
    private func waitUntilEnded(_ ticket: JobWatch.Ticket, seconds: Double) async throws -> Job? {
        let current: Job?
        do {
            current = try store.job(id: ticket.jobID)
        } catch {
            watch.forget(ticket)
            throw error
        }
        if let current, current.status.isFinal {
            watch.forget(ticket)
            return current
        }
        await watch.wait(ticket, timeout: .milliseconds(Int(seconds * 1000)))
        return try store.job(id: ticket.jobID)
    }

    func cancelJob(_ request: APICall, caller: Caller) throws -> Reply {
        let (job, access) = try visibleJob(request.params["id"], caller: caller)
        guard access.allows(.cancelAnyJob) || (access.allows(.cancelOwnJob) && job.submittedBy == caller.user.id) else {
            throw APIError.forbidden("cancelling this job needs the editor role, or the runner role and being its submitter")
        }
        guard let (before, cancelled) = try store.cancel(jobID: job.id) else {
            throw APIError.conflict("job \(job.id) already ended")
        }
        // The state inside the cancelling transaction decides, not the earlier read.
        if before.status == .running, let workerID = before.workerID {
            signals.jobCancelled(jobID: before.id, workerID: workerID, attempt: before.attempts)
        } else if before.status == .queued {
            signals.jobDequeued(jobID: before.id)
        }
        watch.finished(job.id)
        metrics?.jobFinished(.cancelled)
        logger.info("job cancelled", metadata: ["job": "\(job.id)", "by": "\(caller.user.id)"])
        return try .ok(try jobBody(cancelled, project: access.project))
    }

    func listJobs(_ request: APICall, caller: Caller) throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        try access.require(.read)
        var status: JobStatus?
        if let text = request.params["status"] {
            guard let parsed = JobStatus(rawValue: text) else {
                throw APIError.invalid("status must be one of \(JobStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            status = parsed
        }
        if let origin = request.params["origin"], origin != "server", origin != "local" {
            throw APIError.invalid("origin must be server or local")
        }
        let limit = try pageLimit(request.params["limit"])
        let after = try request.params["cursor"].map(JobCursor.decode)
        let jobs = try store.jobs(
            projectID: access.project.id, status: status, origin: request.params["origin"], skill: request.params["skill"],
            sessionID: request.params["session_id"], after: after, limit: limit)
        // List items leave out stdout and stderr (GET /jobs/{id} has them), and a page stops
        // early rather than grow past a few MiB: inputs and results can be large too.
        var items: [Schemas.Job] = []
        var bytes = 0
        for job in jobs {
            let item = Schemas.Job(job, projectName: access.project.name, files: nil, withOutput: false)
            bytes += try APICoding.encode(item).count
            if bytes > Self.maxListBytes, !items.isEmpty { break }
            items.append(item)
        }
        let next = items.count < jobs.count || jobs.count == limit ? items.last.map { JobCursor.encode($0.id) } : nil
        return try .ok(Schemas.JobList(jobs: items, nextCursor: next))
    }

    func waitSeconds(_ text: String?) throws(APIError) -> Double? {
        guard let text else { return nil }
        guard let seconds = Double(text), seconds.isFinite, seconds >= 0, seconds <= APIHandler.maxWaitSeconds else {
            throw .invalid("wait must be a number of seconds between 0 and \(Int(APIHandler.maxWaitSeconds))")
        }
        return seconds
    }

    // MARK: Run records

    static let maxRunsPerPost = 500

    func createRuns(_ request: APICall, caller: Caller) throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        try access.require(.writeRunRecord)
        let records = try request.body(Schemas.RunsRequest.self).runs
        guard !records.isEmpty, records.count <= Self.maxRunsPerPost else {
            throw APIError.invalid("post 1-\(Self.maxRunsPerPost) run records at a time")
        }
        // All are checked before any is stored: a bad record fails the post, not half of it.
        let jobs = try records.enumerated().map { index, record in
            try RunRecord(record, index: index).job(projectID: access.project.id, submittedBy: caller.user.id)
        }
        var results: [Schemas.RunReceipt] = []
        for job in jobs {
            let (stored, created) = try store.recordRun(job)
            results.append(Schemas.RunReceipt(id: job.clientRunID ?? "", jobID: stored.id, created: created))
        }
        return try .ok(Schemas.RunReceipts(runs: results))
    }
}
