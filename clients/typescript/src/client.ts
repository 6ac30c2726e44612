// A typed client for the AgentOS gateway's REST API, for server-side TypeScript (a Next.js
// app's route handlers, Node 18+): `fetch`, `Request` and `Response` from the platform, the
// types from the API's own OpenAPI document (./api.ts). No dependency.
import { operations } from "./api.js";
import type { Job, JobSubmit, JsonValue, OperationName, Operations, TokenPair } from "./api.js";

export type { Job, JobSubmit, JsonValue, OperationName, Operations, TokenPair } from "./api.js";

/** An error answer of the API (`{"error": {"code", "message"}}`), or the gateway unreachable. */
export class AgentOSError extends Error {
  /** The HTTP status (0: no answer at all). */
  readonly status: number;
  /** The API's error code, e.g. `invalid_request`, `forbidden`, `rate_limited`, `unreachable`. */
  readonly code: string;
  /** The field at fault, for some 400s. */
  readonly path?: string;
  /** Seconds to wait before trying again, from `Retry-After` (429, 503). */
  readonly retryAfter?: number;

  constructor(status: number, code: string, message: string, path?: string, retryAfter?: number) {
    super(message);
    this.name = "AgentOSError";
    this.status = status;
    this.code = code;
    this.path = path;
    this.retryAfter = retryAfter;
  }
}

/** What an operation's call takes: its path and query parameters, and its body when it has one. */
export type CallArguments<Name extends OperationName> = {
  path?: Operations[Name]["path"];
  query?: Operations[Name]["query"];
  body?: Operations[Name]["body"];
  /** Aborts the request (a client gone, a deadline). */
  signal?: AbortSignal;
};

/** The body of any success of an operation. */
export type Success<Name extends OperationName> = Operations[Name]["responses"][keyof Operations[Name]["responses"]];

/** One event of a job's life, as `GET /jobs/{id}/events` sends them. */
export interface JobEvent {
  /** `status`, `output` or `result` (see the API document's JobStatusEvent, JobOutputEvent, JobResultEvent). */
  event: string;
  /** Its id, to resume from with `Last-Event-ID`. */
  id?: string;
  data: JsonValue;
}

export interface ClientOptions {
  /** The gateway, e.g. `https://agentos.example.com` (no `/api/v1`). */
  baseURL: string;
  /** A bearer token: an access token from `login`, or a personal access token (`aos_pat_…`). */
  token?: string;
  /** `fetch` to use (default: the platform's). */
  fetch?: typeof fetch;
}

export class AgentOSClient {
  readonly baseURL: string;
  token?: string;
  private readonly fetcher: typeof fetch;

  constructor(options: ClientOptions) {
    this.baseURL = options.baseURL.replace(/\/+$/, "");
    this.token = options.token;
    this.fetcher = options.fetch ?? fetch;
  }

  /** Calls any operation by its name, typed from the API document. */
  async call<Name extends OperationName>(name: Name, args: CallArguments<Name> = {}): Promise<Success<Name>> {
    const response = await this.send(name, args);
    if (response.status === 204) return undefined as Success<Name>;
    const type = response.headers.get("content-type") ?? "";
    return (type.includes("application/json") ? await response.json() : await response.text()) as Success<Name>;
  }

  /** Logs in with an email and password; the client then uses the access token. */
  async login(email: string, password: string): Promise<TokenPair> {
    const pair = await this.call("auth.login", { body: { email, password } });
    this.token = pair.access_token;
    return pair;
  }

  /** Submits a job; with `waitSeconds`, answers once it ended (or the wait is over). */
  async submitJob(project: string, job: JobSubmit, waitSeconds?: number, signal?: AbortSignal): Promise<Job> {
    return this.call("jobs.submit", { path: { project }, query: waitSeconds === undefined ? {} : { wait: waitSeconds }, body: job, signal });
  }

  /** A job; with `waitSeconds`, once it ended (or the wait is over). */
  async getJob(id: string, waitSeconds?: number, signal?: AbortSignal): Promise<Job> {
    return this.call("jobs.get", { path: { id }, query: waitSeconds === undefined ? {} : { wait: waitSeconds }, signal });
  }

  /** Cancels a job. */
  async cancelJob(id: string): Promise<Job> {
    return this.call("jobs.cancel", { path: { id } });
  }

  /**
   * A job's events as they happen (Server-Sent Events): status changes, output while it runs,
   * then its result; the stream ends after the result. `lastEventID` resumes after an event.
   */
  async *jobEvents(id: string, options: { lastEventID?: string; signal?: AbortSignal } = {}): AsyncGenerator<JobEvent> {
    const headers: Record<string, string> = { accept: "text/event-stream" };
    if (options.lastEventID) headers["last-event-id"] = options.lastEventID;
    const response = await this.request("GET", `/api/v1/jobs/${encodeURIComponent(id)}/events`, undefined, headers, options.signal);
    if (!response.body) return;
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffered = "";
    let event: { event: string; id?: string; data: string[] } = { event: "message", data: [] };
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffered += decoder.decode(value, { stream: true });
        let newline: number;
        while ((newline = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, newline).replace(/\r$/, "");
          buffered = buffered.slice(newline + 1);
          if (line === "") {
            if (event.data.length > 0) yield { event: event.event, id: event.id, data: parseData(event.data.join("\n")) };
            event = { event: "message", data: [] };
          } else if (line.startsWith(":")) {
            // A comment (keep-alive).
          } else {
            const colon = line.indexOf(":");
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
            if (field === "event") event.event = value;
            else if (field === "id") event.id = value;
            else if (field === "data") event.data.push(value);
          }
        }
      }
    } finally {
      reader.releaseLock();
    }
  }

  /** Sends an operation's request; throws `AgentOSError` for any answer but a success. */
  private async send<Name extends OperationName>(name: Name, args: CallArguments<Name>): Promise<Response> {
    const operation = operations[name];
    let path: string = operation.path;
    const pathParameters = (args.path ?? {}) as Record<string, string>;
    path = path.replace(/\{([^}]+)\}/g, (_, key: string) => {
      const value = pathParameters[key];
      if (value === undefined) throw new TypeError(`${name}: the path parameter ${key} is missing`);
      return encodeURIComponent(value);
    });
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries((args.query ?? {}) as Record<string, unknown>)) {
      if (value !== undefined && value !== null) query.set(key, String(value));
    }
    const suffix = query.toString() ? `?${query}` : "";
    const headers: Record<string, string> = {};
    let body: BodyInit | undefined;
    if (args.body !== undefined) {
      if (typeof args.body === "object" && args.body !== null && !(args.body instanceof ArrayBuffer) && !(args.body instanceof Uint8Array)
        && !(typeof Blob !== "undefined" && args.body instanceof Blob)) {
        headers["content-type"] = "application/json";
        body = JSON.stringify(args.body);
      } else {
        body = args.body as BodyInit;
      }
    }
    return this.request(operation.method, path + suffix, body, headers, args.signal);
  }

  private async request(method: string, path: string, body: BodyInit | undefined, headers: Record<string, string>, signal?: AbortSignal): Promise<Response> {
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let response: Response;
    try {
      response = await this.fetcher(this.baseURL + path, { method, body, headers, signal });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new AgentOSError(0, "unreachable", `cannot reach the gateway at ${this.baseURL}: ${(error as Error).message}`);
    }
    if (response.ok) return response;
    let code = `http_${response.status}`;
    let message = `the gateway answered ${response.status}`;
    let field: string | undefined;
    try {
      const answer = (await response.json()) as { error?: { code?: string; message?: string; path?: string } };
      code = answer.error?.code ?? code;
      message = answer.error?.message ?? message;
      field = answer.error?.path;
    } catch {
      // Not the API's error body (a proxy's page): the status says it.
    }
    const retryAfter = Number(response.headers.get("retry-after") ?? "");
    throw new AgentOSError(response.status, code, message, field, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined);
  }
}

function parseData(text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return text;
  }
}
