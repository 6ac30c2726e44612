/// One step of the PostgreSQL schema: a name shared with the SQLite migration it mirrors
/// (`SQLiteStore.migrator`) and the statements that make it, run in order in one transaction.
///
/// Like the SQLite ones, a migration never changes once shipped: add a new one instead.
public struct PostgresMigration: Sendable, Equatable {
    /// The migration's name, the same as the SQLite migration's it mirrors.
    public let name: String
    /// The statements, one each: the extended query protocol runs one statement per query.
    public let statements: [String]

    /// A migration named `name` made of `statements`.
    public init(name: String, statements: [String]) {
        self.name = name
        self.statements = statements
    }
}

extension PostgresMigration {
    /// The server's schema, step for step the same as SQLite's (`SQLiteStore.migrator`), so that a
    /// database of either engine at the same migration holds the same tables, columns and indexes.
    ///
    /// The dialect's choices: text ids; `bigint` for every integer (SQLite's are 64-bit);
    /// `timestamptz(3)` for times (milliseconds, as SQLite's and the API's); `json` for JSON (the
    /// text as written: `jsonb` would refuse the escaped NUL a JSON value may hold);
    /// `bytea` for blobs; a nondeterministic ICU collation `agentos_nocase` where SQLite says
    /// `COLLATE NOCASE` (it folds all of Unicode's case, not only ASCII's); an identity column for
    /// the audit log's autoincremented `seq` (`BY DEFAULT`, so that `store copy` keeps the numbers).
    public static let appStore: [PostgresMigration] = [core, controlPlane, sandbox, queueInMemory, busKeys, jobDirs, leases, blobs]

    static let core = PostgresMigration(name: "v1-core", statements: [
        "CREATE COLLATION agentos_nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false)",
        """
        CREATE TABLE users (
            id text PRIMARY KEY,
            email text COLLATE agentos_nocase NOT NULL UNIQUE,
            name text NOT NULL,
            password_hash text NOT NULL,
            role text NOT NULL,
            disabled boolean NOT NULL DEFAULT false,
            created_at timestamptz(3) NOT NULL
        )
        """,
        """
        CREATE TABLE projects (
            id text PRIMARY KEY,
            name text NOT NULL UNIQUE,
            created_by text NOT NULL REFERENCES users (id),
            created_at timestamptz(3) NOT NULL
        )
        """,
        """
        CREATE TABLE project_members (
            project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
            user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            role text NOT NULL,
            PRIMARY KEY (project_id, user_id)
        )
        """,
        """
        CREATE TABLE worker_tokens (
            id text PRIMARY KEY,
            name text NOT NULL,
            token_hash text NOT NULL UNIQUE,
            created_at timestamptz(3) NOT NULL,
            revoked_at timestamptz(3)
        )
        """,
        """
        CREATE TABLE workers (
            id text PRIMARY KEY,
            name text NOT NULL,
            kind text NOT NULL,
            owner_id text,
            labels json NOT NULL,
            slots bigint NOT NULL,
            version text NOT NULL,
            online boolean NOT NULL,
            connected_at timestamptz(3) NOT NULL,
            last_seen_at timestamptz(3) NOT NULL
        )
        """,
        """
        CREATE TABLE jobs (
            id text PRIMARY KEY,
            project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
            status text NOT NULL,
            origin text NOT NULL,
            code text NOT NULL,
            inputs json NOT NULL,
            target text NOT NULL,
            requested_worker text,
            labels json NOT NULL,
            timeout_s double precision NOT NULL,
            max_output_bytes bigint NOT NULL,
            priority bigint NOT NULL,
            max_attempts bigint NOT NULL,
            attempts bigint NOT NULL,
            worker_id text,
            worker_name text,
            submitted_by text NOT NULL,
            idempotency_key text,
            created_at timestamptz(3) NOT NULL,
            queued_at timestamptz(3) NOT NULL,
            started_at timestamptz(3),
            finished_at timestamptz(3),
            result json,
            stdout text NOT NULL,
            stderr text NOT NULL,
            exit_code bigint,
            error text,
            output_truncated boolean NOT NULL
        )
        """,
        // As in SQLite's v1; v4 drops jobs_queue, jobs_worker and jobs_age there and here.
        "CREATE INDEX jobs_queue ON jobs (status, priority, created_at)",
        "CREATE INDEX jobs_worker ON jobs (worker_id, status)",
        "CREATE INDEX jobs_history ON jobs (project_id, created_at, id)",
        "CREATE INDEX jobs_age ON jobs (status, queued_at)",
        """
        CREATE UNIQUE INDEX jobs_idempotency ON jobs (project_id, submitted_by, idempotency_key)
            WHERE idempotency_key IS NOT NULL
        """,
    ])

    static let controlPlane = PostgresMigration(name: "v2-control-plane", statements: [
        """
        CREATE TABLE auth_sessions (
            id text PRIMARY KEY,
            user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            created_at timestamptz(3) NOT NULL,
            expires_at timestamptz(3) NOT NULL,
            last_used_at timestamptz(3) NOT NULL,
            revoked_at timestamptz(3),
            revoked_reason text,
            address text
        )
        """,
        """
        CREATE TABLE refresh_tokens (
            id text PRIMARY KEY,
            session_id text NOT NULL REFERENCES auth_sessions (id) ON DELETE CASCADE,
            token_hash text NOT NULL UNIQUE,
            created_at timestamptz(3) NOT NULL,
            used_at timestamptz(3)
        )
        """,
        """
        CREATE TABLE personal_tokens (
            id text PRIMARY KEY,
            user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            name text NOT NULL,
            token_hash text NOT NULL UNIQUE,
            prefix text NOT NULL,
            created_at timestamptz(3) NOT NULL,
            expires_at timestamptz(3),
            last_used_at timestamptz(3),
            revoked_at timestamptz(3)
        )
        """,
        "ALTER TABLE worker_tokens ADD COLUMN labels json",
        """
        CREATE TABLE teams (
            id text PRIMARY KEY,
            name text COLLATE agentos_nocase NOT NULL UNIQUE,
            created_by text NOT NULL REFERENCES users (id),
            created_at timestamptz(3) NOT NULL
        )
        """,
        """
        CREATE TABLE team_members (
            team_id text NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
            user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            role text NOT NULL,
            PRIMARY KEY (team_id, user_id)
        )
        """,
        "ALTER TABLE projects ADD COLUMN team_id text REFERENCES teams (id) ON DELETE SET NULL",
        """
        CREATE TABLE skills (
            id text PRIMARY KEY,
            project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
            name text NOT NULL,
            description text NOT NULL,
            latest_version bigint NOT NULL,
            created_by text NOT NULL,
            created_at timestamptz(3) NOT NULL,
            updated_at timestamptz(3) NOT NULL,
            UNIQUE (project_id, name)
        )
        """,
        """
        CREATE TABLE skill_versions (
            skill_id text NOT NULL REFERENCES skills (id) ON DELETE CASCADE,
            version bigint NOT NULL,
            description text NOT NULL,
            code text NOT NULL,
            entrypoint text NOT NULL,
            requirements text NOT NULL,
            input_schema json,
            limits json,
            content_hash text NOT NULL,
            author text NOT NULL,
            created_at timestamptz(3) NOT NULL,
            PRIMARY KEY (skill_id, version),
            UNIQUE (skill_id, content_hash)
        )
        """,
        """
        CREATE TABLE providers (
            id text PRIMARY KEY,
            project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
            name text NOT NULL,
            kind text NOT NULL,
            base_url text NOT NULL,
            models json NOT NULL,
            api_key_sealed bytea NOT NULL,
            created_by text NOT NULL,
            created_at timestamptz(3) NOT NULL,
            updated_at timestamptz(3) NOT NULL,
            UNIQUE (project_id, name)
        )
        """,
        """
        CREATE TABLE agents (
            id text PRIMARY KEY,
            project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
            name text NOT NULL,
            version bigint NOT NULL,
            provider text NOT NULL,
            model text NOT NULL,
            system_prompt text NOT NULL,
            skills json NOT NULL,
            params json NOT NULL,
            updated_by text NOT NULL,
            created_at timestamptz(3) NOT NULL,
            updated_at timestamptz(3) NOT NULL,
            UNIQUE (project_id, name)
        )
        """,
        """
        CREATE TABLE agent_versions (
            agent_id text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
            version bigint NOT NULL,
            provider text NOT NULL,
            model text NOT NULL,
            system_prompt text NOT NULL,
            skills json NOT NULL,
            params json NOT NULL,
            updated_by text NOT NULL,
            created_at timestamptz(3) NOT NULL,
            PRIMARY KEY (agent_id, version)
        )
        """,
        """
        CREATE TABLE chat_sessions (
            id text PRIMARY KEY,
            project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
            title text NOT NULL,
            agent text,
            created_by text NOT NULL,
            created_at timestamptz(3) NOT NULL,
            updated_at timestamptz(3) NOT NULL
        )
        """,
        "CREATE INDEX chat_sessions_project ON chat_sessions (project_id, updated_at)",
        """
        CREATE TABLE chat_messages (
            id text PRIMARY KEY,
            session_id text NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
            seq bigint NOT NULL,
            role text NOT NULL,
            content text NOT NULL,
            job_id text,
            created_by text NOT NULL,
            created_at timestamptz(3) NOT NULL,
            UNIQUE (session_id, seq)
        )
        """,
        """
        CREATE TABLE files (
            id text PRIMARY KEY,
            project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
            name text NOT NULL,
            sha256 text NOT NULL,
            size bigint NOT NULL,
            content_type text NOT NULL,
            created_by text NOT NULL,
            created_at timestamptz(3) NOT NULL
        )
        """,
        "CREATE INDEX files_project ON files (project_id, created_at)",
        "CREATE INDEX files_sha256 ON files (sha256)",
        """
        CREATE TABLE job_files (
            job_id text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            file_id text NOT NULL,
            name text NOT NULL,
            sha256 text NOT NULL,
            size bigint NOT NULL,
            PRIMARY KEY (job_id, file_id)
        )
        """,
        """
        ALTER TABLE jobs
            ADD COLUMN skill text,
            ADD COLUMN skill_version bigint,
            ADD COLUMN entrypoint text NOT NULL DEFAULT 'main',
            ADD COLUMN requirements text NOT NULL DEFAULT '',
            ADD COLUMN memory_mb bigint,
            ADD COLUMN network boolean NOT NULL DEFAULT false,
            ADD COLUMN session_id text,
            ADD COLUMN client_run_id text,
            ADD COLUMN device text
        """,
        // Run records are idempotent per project by the id the desktop made.
        "CREATE UNIQUE INDEX jobs_client_run ON jobs (project_id, client_run_id) WHERE client_run_id IS NOT NULL",
        """
        CREATE TABLE audit_log (
            seq bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            at timestamptz(3) NOT NULL,
            actor_id text,
            actor_email text,
            action text NOT NULL,
            target text,
            project_id text,
            detail json NOT NULL,
            address text
        )
        """,
        "CREATE INDEX audit_action ON audit_log (action, seq)",
    ])

    static let sandbox = PostgresMigration(name: "v3-sandbox", statements: [
        // Network for a project's jobs is off until an admin turns it on.
        "ALTER TABLE projects ADD COLUMN allow_network boolean NOT NULL DEFAULT false",
    ])

    static let queueInMemory = PostgresMigration(name: "v4-queue-in-memory", statements: [
        "DROP INDEX jobs_queue",
        "DROP INDEX jobs_age",
        "DROP INDEX jobs_worker",
        "CREATE INDEX jobs_queued ON jobs (queued_at) WHERE status = 'queued'",
        "CREATE INDEX jobs_running ON jobs (worker_id) WHERE status = 'running'",
    ])

    static let busKeys = PostgresMigration(name: "v5-bus-keys", statements: [
        // The bus's ZAP handler finds the credential behind a connecting CURVE key.
        "ALTER TABLE worker_tokens ADD COLUMN curve_key text",
        "CREATE UNIQUE INDEX worker_tokens_curve_key ON worker_tokens (curve_key) WHERE curve_key IS NOT NULL",
        "ALTER TABLE personal_tokens ADD COLUMN curve_key text",
        "CREATE UNIQUE INDEX personal_tokens_curve_key ON personal_tokens (curve_key) WHERE curve_key IS NOT NULL",
    ])

    static let jobDirs = PostgresMigration(name: "v6-job-dirs", statements: [
        // The folders a private job sees at /mnt/<name>, by the names its desktop shares them under.
        "ALTER TABLE jobs ADD COLUMN dirs json NOT NULL DEFAULT '[]'",
    ])

    static let leases = PostgresMigration(name: "v7-leases", statements: [
        // The servers sharing the database, and which one holds each running job until when.
        """
        CREATE TABLE servers (
            id text PRIMARY KEY,
            bus_endpoint text NOT NULL,
            api_endpoint text NOT NULL,
            started_at timestamptz(3) NOT NULL,
            heartbeat_at timestamptz(3) NOT NULL
        )
        """,
        "ALTER TABLE jobs ADD COLUMN server_id text",
        "ALTER TABLE jobs ADD COLUMN lease_until timestamptz(3)",
        "CREATE INDEX jobs_leases ON jobs (lease_until) WHERE status = 'running'",
    ])

    static let blobs = PostgresMigration(name: "v8-blobs", statements: [
        // Uploaded files' bytes, by SHA-256, so that every server sharing the database reads
        // them; stored out of line uncompressed, so a FETCH's substring reads only its chunk.
        // (SQLite's v8-blobs is empty: a single server keeps them in its data directory.)
        "CREATE TABLE blobs (sha256 text PRIMARY KEY, size bigint NOT NULL, data bytea NOT NULL)",
        "ALTER TABLE blobs ALTER COLUMN data SET STORAGE EXTERNAL",
    ])
}
