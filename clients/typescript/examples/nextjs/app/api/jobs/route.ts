// A Next.js App Router route handler (app/api/jobs/route.ts): the web app's users submit jobs
// through it, and it streams each job's events back to the browser as Server-Sent Events.
//
// It talks to AgentOS with a service account's personal access token (AGENTOS_SERVICE_TOKEN,
// made with POST /api/v1/tokens as that account, a runner of the project), never with the
// browser's credentials: the app decides who its user is (its own session; here the
// `x-user` header its middleware sets), and AgentOS sees the service account. Which web user
// asked, and which request of theirs it was, go into the job's idempotency key, so a retried
// request never submits twice. Copy ../../../../../src (the client) into your app as
// lib/agentos and import it from there.
import { AgentOSClient, AgentOSError } from "../../../../../src/client.js";
import type { JobSubmit, JsonValue } from "../../../../../src/client.js";

// Node's process, without @types/node.
declare const process: { env: Record<string, string | undefined> };

interface SubmitBody {
  project?: unknown;
  skill?: unknown;
  code?: unknown;
  inputs?: unknown;
  request_id?: unknown;
}

export async function POST(req: Request): Promise<Response> {
  const gateway = process.env.AGENTOS_GATEWAY;
  const token = process.env.AGENTOS_SERVICE_TOKEN;
  if (!gateway || !token) return problem(500, "not_configured", "set AGENTOS_GATEWAY and AGENTOS_SERVICE_TOKEN on the server");
  const user = req.headers.get("x-user");
  if (!user) return problem(401, "unauthorized", "sign in first");

  let body: SubmitBody;
  try {
    body = (await req.json()) as SubmitBody;
  } catch {
    return problem(400, "invalid_json", "the body must be a JSON object");
  }
  if (typeof body !== "object" || body === null) return problem(400, "invalid_json", "the body must be a JSON object");
  if (typeof body.project !== "string" || body.project === "") return problem(400, "invalid_request", "project is required");
  if ((typeof body.skill === "string") === (typeof body.code === "string")) {
    return problem(400, "invalid_request", "give exactly one of skill (a name, name@version) and code");
  }
  if (body.inputs !== undefined && (typeof body.inputs !== "object" || body.inputs === null || Array.isArray(body.inputs))) {
    return problem(400, "invalid_request", "inputs must be an object");
  }
  const job: JobSubmit = { inputs: (body.inputs ?? {}) as { [key: string]: JsonValue } };
  if (typeof body.skill === "string") {
    const [name, version] = body.skill.split("@");
    job.skill = name;
    if (version !== undefined) job.version = Number(version);
  } else {
    job.code = body.code as string;
  }
  if (typeof body.request_id === "string" && body.request_id !== "") job.idempotency_key = `web:${user}:${body.request_id}`.slice(0, 200);

  const client = new AgentOSClient({ baseURL: gateway, token });
  let id: string;
  try {
    id = (await client.submitJob(body.project, job, undefined, req.signal)).id;
  } catch (error) {
    return mapped(error);
  }

  // The job's events, passed on as they come; the stream ends after its result.
  const encoder = new TextEncoder();
  const events = client.jobEvents(id, { signal: req.signal });
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await events.next();
        if (next.done) {
          controller.close();
          return;
        }
        const { event, id: eventID, data } = next.value;
        controller.enqueue(encoder.encode(`event: ${event}\n${eventID ? `id: ${eventID}\n` : ""}data: ${JSON.stringify(data)}\n\n`));
      } catch (error) {
        // The browser learns why the stream stopped, in the stream.
        const { status, code, message } = describe(error);
        controller.enqueue(encoder.encode(`event: error\ndata: ${JSON.stringify({ status, code, message })}\n\n`));
        controller.close();
      }
    },
    async cancel() {
      await events.return(undefined);
    },
  });
  return new Response(stream, {
    status: 200,
    headers: { "content-type": "text/event-stream", "cache-control": "no-store", "x-job-id": id },
  });
}

/** An AgentOS failure as this app's answer: the user's mistakes pass through, the service's do not. */
function mapped(error: unknown): Response {
  const { status, code, message, retryAfter } = describe(error);
  switch (status) {
    case 400:
    case 404:
    case 409:
    case 413:
      return problem(status, code, message);
    case 401:
    case 403:
      // The service token is refused: the app's configuration, not the user's fault.
      return problem(502, "service_unauthorized", "the job service refused this app's credentials; tell its operators");
    case 429:
      return problem(429, code, message, retryAfter);
    default:
      return problem(503, "unavailable", "the job service is unavailable; try again shortly", retryAfter);
  }
}

function describe(error: unknown): { status: number; code: string; message: string; retryAfter?: number } {
  if (error instanceof AgentOSError) return { status: error.status, code: error.code, message: error.message, retryAfter: error.retryAfter };
  return { status: 0, code: "unavailable", message: error instanceof Error ? error.message : String(error) };
}

function problem(status: number, code: string, message: string, retryAfter?: number): Response {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (retryAfter !== undefined) headers["retry-after"] = String(Math.ceil(retryAfter));
  return new Response(JSON.stringify({ error: { code, message } }), { status, headers });
}
