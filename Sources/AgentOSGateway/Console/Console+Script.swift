extension Console {
    /// The app: hash routes (`#/projects/P`, `#/jobs/ID`, …) rendered from `/api/v1` answers.
    /// Every piece of data reaches the page as `textContent` of elements it creates (never
    /// markup), and the tokens live in this script's memory only.
    static let appScript = ##"""
"use strict";
(() => {
  const API = "/api/v1";
  const FINAL = ["succeeded", "failed", "timed_out", "cancelled"];
  const RUNNER_ROLES = ["runner", "editor", "owner"];
  // The session lives in memory only: never in a URL, a cookie or Web Storage, so nothing
  // outlives the page and no other page or script of this origin can read it later.
  const session = { access: null, refresh: null, user: null };
  // Each render gets a new generation; polls and streams of an older one stop.
  let generation = 0;
  let stopView = [];

  class APIError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
    toString() { return `${this.status} ${this.code}: ${this.message}`; }
  }

  // DOM: elements are created and filled with text, never parsed from strings.
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "text") node.textContent = String(value);
      else if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  const $ = (id) => document.getElementById(id);
  const enc = encodeURIComponent;
  const link = (href, text, props) => el("a", Object.assign({ href, text }, props || {}));
  const statusBadge = (status) => el("span", { class: `status status-${status}`, text: status, "data-status": status });
  const when = (text) => (text ? new Date(text).toLocaleString() : "—");
  const json = (value) => JSON.stringify(value, null, 2);

  function table(headers, rows, id) {
    return el("table", { id }, el("thead", {}, el("tr", {}, headers.map((h) => el("th", { text: h })))),
      el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c) => (c instanceof Node && c.tagName === "TD" ? c : el("td", {}, c)))))));
  }

  function fields(pairs) {
    return el("dl", { class: "fields" }, pairs.flatMap(([name, value, id]) => [el("dt", { text: name }), el("dd", { id }, value)]));
  }

  function showError(error) {
    const box = $("error");
    if (!error) { box.hidden = true; box.textContent = ""; return; }
    box.textContent = error instanceof APIError ? error.toString() : String(error && error.message ? error.message : error);
    box.hidden = false;
  }

  // API calls: a 401 refreshes the session once (the refresh token rotates), then asks to log in.
  async function send(method, path, body, token) {
    const headers = { Accept: "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store", credentials: "omit" });
  }

  async function errorOf(response) {
    let code = "http_error";
    let message = response.statusText || "request failed";
    try {
      const data = await response.json();
      if (data && data.error) { code = data.error.code || code; message = data.error.message || message; }
    } catch (_) { /* not JSON */ }
    return new APIError(response.status, code, message);
  }

  let refreshing = null;
  async function refreshSession() {
    if (!session.refresh) return false;
    if (!refreshing) {
      refreshing = (async () => {
        const response = await send("POST", "/auth/refresh", { refresh_token: session.refresh });
        if (!response.ok) { session.refresh = null; return false; }
        const pair = await response.json();
        session.access = pair.access_token;
        session.refresh = pair.refresh_token;
        if (pair.user) session.user = pair.user;
        return true;
      })().finally(() => { refreshing = null; });
    }
    return refreshing;
  }

  async function authorized(call) {
    let response = await call(session.access);
    if (response.status === 401 && session.access && (await refreshSession())) response = await call(session.access);
    if (response.status === 401 && session.access) {
      clearSession();
      location.hash = "#/login";
      throw new APIError(401, "unauthenticated", "your session ended: log in again");
    }
    return response;
  }

  async function api(method, path, body) {
    const response = await authorized((token) => send(method, path, body, token));
    if (!response.ok) throw await errorOf(response);
    if (response.status === 204) return null;
    return response.json();
  }

  function clearSession() {
    session.access = null;
    session.refresh = null;
    session.user = null;
  }

  // A job's events (SSE) read with fetch, which can send the Authorization header that the
  // browser's own SSE client cannot. Calls onEvent(name, data, id) for each; resolves when the stream ends.
  async function readEvents(jobID, lastID, onEvent, signal) {
    const response = await authorized((token) => fetch(`${API}/jobs/${enc(jobID)}/events`, {
      headers: Object.assign({ Accept: "text/event-stream", Authorization: `Bearer ${token}` }, lastID ? { "Last-Event-ID": lastID } : {}),
      signal, cache: "no-store", credentials: "omit",
    }));
    if (response.status === 204) return;
    if (!response.ok) throw await errorOf(response);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let event = { name: "message", data: [], id: null };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n")) >= 0) {
        let line = buffer.slice(0, end);
        buffer = buffer.slice(end + 1);
        if (line.endsWith("\r")) line = line.slice(0, -1);
        if (line === "") {
          if (event.data.length) {
            let data = null;
            try { data = JSON.parse(event.data.join("\n")); } catch (_) { data = null; }
            onEvent(event.name, data, event.id);
          }
          event = { name: "message", data: [], id: null };
        } else if (!line.startsWith(":")) {
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          let text = colon < 0 ? "" : line.slice(colon + 1);
          if (text.startsWith(" ")) text = text.slice(1);
          if (field === "event") event.name = text;
          else if (field === "data") event.data.push(text);
          else if (field === "id") event.id = text;
        }
      }
    }
  }

  // Roles, as the API checks them: admins do everything; runners and up submit and cancel
  // their own jobs; editors and owners cancel any.
  const isAdmin = () => Boolean(session.user && session.user.role === "admin");
  const canSubmit = (project) => isAdmin() || RUNNER_ROLES.includes(project.role);
  const canCancel = (project, job) => isAdmin() || ["editor", "owner"].includes(project.role)
    || (project.role === "runner" && session.user && job.submitted_by === session.user.id);

  // Views.
  function every(milliseconds, task) {
    const mine = generation;
    let busy = false;
    const timer = setInterval(async () => {
      if (mine !== generation || busy) return;
      busy = true;
      try { await task(); } catch (error) { showError(error); } finally { busy = false; }
    }, milliseconds);
    stopView.push(() => clearInterval(timer));
  }

  function renderChrome(route) {
    const nav = $("nav");
    const who = $("who");
    nav.replaceChildren();
    who.replaceChildren();
    if (!session.user) return;
    const items = [["#/projects", "Projects"], ["#/workers", "Workers"]];
    if (isAdmin()) items.push(["#/users", "Users"], ["#/audit", "Audit log"]);
    for (const [href, text] of items) nav.append(link(href, text, { class: route.startsWith(href) ? "current" : null }));
    who.append(el("span", { id: "me", text: `${session.user.email} (${session.user.role})` }),
      el("button", { id: "logout", type: "button", text: "Log out", onclick: logout }));
  }

  async function logout() {
    try { if (session.access) await send("POST", "/auth/logout", undefined, session.access); } catch (_) { /* the session ends here anyway */ }
    clearSession();
    location.hash = "#/login";
  }

  function loginView(main) {
    const email = el("input", { id: "email", name: "email", type: "email", autocomplete: "username", required: true });
    const password = el("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
    const button = el("button", { id: "login-button", type: "submit", text: "Log in" });
    const form = el("form", { id: "login", class: "card" },
      el("h1", { text: "Log in to AgentOS" }),
      el("label", { for: "email", text: "Email" }), email,
      el("label", { for: "password", text: "Password" }), password,
      el("div", { class: "actions" }, button),
      el("p", { class: "muted", text: "The session is kept in this page's memory only: reloading the page asks you to log in again." }));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      button.disabled = true;
      try {
        const response = await send("POST", "/auth/login", { email: email.value, password: password.value });
        if (!response.ok) throw await errorOf(response);
        const pair = await response.json();
        session.access = pair.access_token;
        session.refresh = pair.refresh_token;
        session.user = pair.user;
        password.value = "";
        showError(null);
        const next = sessionTarget || "#/projects";
        sessionTarget = null;
        if (location.hash === next) render(); else location.hash = next;
      } catch (error) {
        showError(error);
      } finally {
        button.disabled = false;
      }
    });
    main.append(form);
    email.focus();
  }

  async function projectsView(main) {
    const { projects } = await api("GET", "/projects");
    main.append(el("h1", { text: "Projects" }),
      projects.length === 0 ? el("p", { class: "muted", text: "You are a member of no project." })
        : table(["Project", "Your role", "Created"], projects.map((p) => [
          link(`#/projects/${enc(p.name)}`, p.name, { class: "project-link", "data-project": p.name }),
          p.role || (isAdmin() ? "admin" : "—"), when(p.created_at)]), "projects"));
  }

  const projects = new Map();
  async function project(name) {
    const found = await api("GET", `/projects/${enc(name)}`);
    projects.set(name, found);
    return found;
  }

  function jobRows(jobs) {
    return jobs.map((job) => [
      link(`#/jobs/${enc(job.id)}`, job.id, { class: "job-link mono", "data-job": job.id }),
      statusBadge(job.status),
      job.skill ? `${job.skill}${job.version ? `@${job.version}` : ""}` : "code",
      job.worker || "—", String(job.attempts), when(job.created_at),
      job.duration_ms === null || job.duration_ms === undefined ? "—" : `${(job.duration_ms / 1000).toFixed(2)} s`]);
  }

  async function projectView(main, name) {
    const p = await project(name);
    const header = el("div", { class: "actions" },
      canSubmit(p) ? link(`#/projects/${enc(name)}/submit`, "Submit a job", { id: "submit-link" }) : null,
      link(`#/projects/${enc(name)}/skills`, "Skills", { id: "skills-link" }));
    const holder = el("div", { id: "jobs-holder" });
    main.append(el("h1", {}, `Project ${p.name} `, el("span", { class: "muted", id: "role", text: `(your role: ${p.role || (isAdmin() ? "admin" : "none")})` })),
      header, el("h2", { text: "Jobs" }), el("p", { class: "muted", text: "Newest first; refreshed every 2 seconds." }), holder);
    const refresh = async () => {
      const { jobs } = await api("GET", `/projects/${enc(name)}/jobs?limit=50`);
      holder.replaceChildren(jobs.length === 0 ? el("p", { class: "muted", text: "No jobs yet." })
        : table(["Job", "Status", "Skill", "Worker", "Attempts", "Submitted", "Duration"], jobRows(jobs), "jobs"));
    };
    await refresh();
    every(2000, refresh);
  }

  async function submitView(main, name) {
    const p = await project(name);
    const mine = generation;
    let skills = [];
    try { skills = (await api("GET", `/projects/${enc(name)}/skills`)).skills; } catch (_) { skills = []; }
    const codeMode = el("input", { type: "radio", name: "mode", value: "code", id: "mode-code", checked: true });
    const skillMode = el("input", { type: "radio", name: "mode", value: "skill", id: "mode-skill" });
    const code = el("textarea", { id: "code", name: "code", spellcheck: "false" });
    code.value = "def main(name):\n    print('hello', name)\n    return {'greeting': 'hello ' + name}\n";
    const skill = el("select", { id: "skill", name: "skill" }, skills.map((s) => el("option", { value: s.name, text: `${s.name} (latest v${s.latest_version})` })));
    const version = el("input", { id: "version", name: "version", type: "number", min: "1", placeholder: "latest" });
    const inputs = el("textarea", { id: "inputs", name: "inputs", spellcheck: "false" });
    inputs.value = '{"name": "world"}';
    const target = el("select", { id: "target", name: "target" }, el("option", { value: "cloud", text: "cloud" }), el("option", { value: "private", text: "private (my desktop)" }));
    const codeBox = el("div", {}, el("label", { for: "code", text: "Python code (main(**inputs) is called when defined)" }), code);
    const skillBox = el("div", { hidden: true }, el("label", { for: "skill", text: "Skill" }), skill, el("label", { for: "version", text: "Version" }), version);
    const switchMode = () => { codeBox.hidden = !codeMode.checked; skillBox.hidden = codeMode.checked; };
    codeMode.addEventListener("change", switchMode);
    skillMode.addEventListener("change", switchMode);
    const button = el("button", { id: "submit-job", type: "submit", text: "Submit" });
    const form = el("form", { id: "submit-form", class: "card" },
      el("div", { class: "radio" }, el("label", {}, codeMode, "Code"), el("label", {}, skillMode, "Skill")),
      codeBox, skillBox,
      el("label", { for: "inputs", text: "Inputs (a JSON object)" }), inputs,
      el("label", { for: "target", text: "Target" }), target,
      el("div", { class: "actions" }, button));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      let parsed;
      try {
        parsed = inputs.value.trim() === "" ? {} : JSON.parse(inputs.value);
        if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("must be an object");
      } catch (error) {
        showError(`Inputs are not a JSON object: ${error.message}`);
        return;
      }
      const body = { inputs: parsed, target: target.value };
      if (codeMode.checked) body.code = code.value;
      else {
        body.skill = skill.value;
        if (version.value) body.version = Number(version.value);
      }
      button.disabled = true;
      try {
        const job = await api("POST", `/projects/${enc(name)}/jobs`, body);
        if (mine === generation) location.hash = `#/jobs/${enc(job.id)}`;
      } catch (error) {
        showError(error);
      } finally {
        button.disabled = false;
      }
    });
    main.append(el("h1", { text: `Submit a job to ${p.name}` }),
      canSubmit(p) ? null : el("p", { class: "note", id: "role-note", text: `Your role in this project (${p.role || "none"}) cannot submit jobs: the server will refuse.` }),
      form);
  }

  async function jobView(main, id) {
    const mine = generation;
    let job = await api("GET", `/jobs/${enc(id)}`);
    const p = projects.get(job.project) || (await project(job.project).catch(() => ({ role: null, name: job.project })));
    const status = el("span", { id: "job-status" }, statusBadge(job.status));
    const attempts = el("span", { id: "job-attempts", text: String(job.attempts) });
    const worker = el("span", { id: "job-worker", text: job.worker || "—" });
    const stdout = el("pre", { id: "stdout", class: "stdout" });
    const stderr = el("pre", { id: "stderr", class: "stderr" });
    const result = el("pre", { id: "result" });
    const error = el("span", { id: "job-error" });
    const timing = el("span", { id: "job-timing" });
    const streamNote = el("span", { id: "stream-state", class: "muted" });
    const cancel = el("button", { id: "cancel", type: "button", class: "danger", text: "Cancel" });
    const setStatus = (value) => { status.replaceChildren(statusBadge(value)); cancel.hidden = FINAL.includes(value) || !canCancel(p, job); };
    const fill = (j) => {
      job = j;
      setStatus(j.status);
      attempts.textContent = `${j.attempts} of ${j.max_attempts}`;
      worker.textContent = j.worker || "—";
      error.textContent = j.error || "—";
      result.textContent = FINAL.includes(j.status) ? json(j.result) : "(not yet)";
      timing.textContent = `submitted ${when(j.created_at)}; started ${when(j.started_at)}; finished ${when(j.finished_at)}`
        + (j.duration_ms === null || j.duration_ms === undefined ? "" : `; ran ${(j.duration_ms / 1000).toFixed(2)} s`);
    };
    cancel.addEventListener("click", async () => {
      cancel.disabled = true;
      try { fill(await api("POST", `/jobs/${enc(id)}/cancel`)); showError(null); } catch (e) { showError(e); } finally { cancel.disabled = false; }
    });
    main.append(el("h1", {}, "Job ", el("span", { class: "mono", text: job.id })),
      el("div", { class: "actions" }, link(`#/projects/${enc(job.project)}`, `← jobs of ${job.project}`), cancel),
      fields([
        ["Status", status], ["Project", job.project], ["Code", job.skill ? `skill ${job.skill}${job.version ? ` v${job.version}` : ""}` : "inline code"],
        ["Inputs", el("span", { class: "mono", text: JSON.stringify(job.inputs) })], ["Target", job.target],
        ["Attempts", attempts], ["Worker", worker], ["Timing", timing], ["Error", error],
      ]),
      el("h2", {}, "Output ", streamNote), stdout, el("h2", { text: "Standard error" }), stderr,
      el("h2", { text: "Result" }), result);
    fill(job);

    // Output as it is printed: the event stream, resumed from its last id if it drops.
    const controller = new AbortController();
    stopView.push(() => controller.abort());
    let lastID = null;
    let attempt = null;
    let ended = false;
    const onEvent = (name, data, eventID) => {
      if (mine !== generation || !data) return;
      if (eventID) lastID = eventID;
      if (name === "status") {
        job.attempts = data.attempts;
        job.worker = data.worker;
        attempts.textContent = `${data.attempts} of ${job.max_attempts}`;
        worker.textContent = data.worker || "—";
        setStatus(data.status);
      } else if (name === "output") {
        if (data.attempt !== undefined && data.attempt !== attempt) {
          attempt = data.attempt;
          stdout.textContent = "";
          stderr.textContent = "";
        }
        if (data.stdout) stdout.append(document.createTextNode(data.stdout));
        if (data.stderr) stderr.append(document.createTextNode(data.stderr));
        if (data.output_truncated) streamNote.textContent = "(truncated)";
      } else if (name === "result") {
        ended = true;
      } else if (name === "error") {
        showError(`the event stream failed: ${data.message}`);
      }
    };
    (async () => {
      for (let tries = 0; !ended && mine === generation && tries < 20; tries++) {
        streamNote.textContent = "(live)";
        try {
          await readEvents(id, lastID, onEvent, controller.signal);
        } catch (e) {
          if (controller.signal.aborted) return;
          showError(e);
          if (e instanceof APIError) break;
        }
        if (!ended) await new Promise((resolve) => setTimeout(resolve, 1000));
      }
      if (mine !== generation) return;
      streamNote.textContent = ended ? "" : "(stream closed)";
      try { fill(await api("GET", `/jobs/${enc(id)}`)); } catch (e) { showError(e); }
    })();
  }

  async function skillsView(main, name) {
    const { skills } = await api("GET", `/projects/${enc(name)}/skills`);
    main.append(el("h1", { text: `Skills of ${name}` }), link(`#/projects/${enc(name)}`, `← jobs of ${name}`),
      skills.length === 0 ? el("p", { class: "muted", text: "No skills yet (agentos skills push)." })
        : table(["Skill", "Latest version", "Description", "Updated"], skills.map((s) => [
          link(`#/projects/${enc(name)}/skills/${enc(s.name)}`, s.name, { class: "skill-link" }), `v${s.latest_version}`, s.description, when(s.updated_at)]), "skills"));
  }

  async function skillView(main, name, skill) {
    const { versions } = await api("GET", `/projects/${enc(name)}/skills/${enc(skill)}/versions`);
    main.append(el("h1", { text: `Skill ${skill}` }), link(`#/projects/${enc(name)}/skills`, `← skills of ${name}`));
    for (const v of versions) {
      const detail = v.code === undefined ? await api("GET", `/projects/${enc(name)}/skills/${enc(skill)}/versions/${v.version}`) : v;
      main.append(el("h2", { text: `v${v.version} — ${when(v.created_at)}` }),
        fields([["Description", v.description], ["Entrypoint", v.entrypoint], ["Requirements", v.requirements || "—"],
          ["Content hash", el("span", { class: "mono", text: v.content_hash })]]),
        el("pre", { class: "code", text: detail.code || "" }));
    }
  }

  async function workersView(main) {
    const list = await api("GET", "/workers");
    const holder = el("div", { id: "workers-holder" });
    const summary = el("p", { id: "cloud-summary" });
    main.append(el("h1", { text: "Workers" }), summary, holder);
    const fillWorkers = (data) => {
      summary.textContent = `Cloud: ${data.cloud.workers} workers, ${data.cloud.slots - data.cloud.free_slots} of ${data.cloud.slots} slots in use.`;
      holder.replaceChildren(data.workers.length === 0 ? el("p", { class: "muted", text: "No worker you may see is connected." })
        : table(["Name", "Kind", "Slots in use", "Labels", "Version", "Connected", "Last seen"], data.workers.map((w) => [
          w.name, w.kind, `${w.slots - w.free_slots} of ${w.slots}${w.draining ? " (draining)" : ""}`, w.labels.join(", ") || "—",
          w.version, when(w.connected_at), when(w.last_seen_at)]), "workers"));
    };
    fillWorkers(list);
    every(3000, async () => fillWorkers(await api("GET", "/workers")));
  }

  async function usersView(main) {
    const { users } = await api("GET", "/users");
    main.append(el("h1", { text: "Users" }), table(["Email", "Name", "Role", "Disabled", "Created"], users.map((u) => [
      u.email, u.name, u.role, u.disabled ? "yes" : "no", when(u.created_at)]), "users"));
  }

  async function auditView(main) {
    const { entries } = await api("GET", "/audit");
    main.append(el("h1", { text: "Audit log" }), table(["When", "Action", "Actor", "Target", "Address", "Detail"], entries.map((e) => [
      when(e.at), e.action, e.actor_email || "—", e.target || "—", e.address || "—", el("span", { class: "mono", text: JSON.stringify(e.detail) })]), "audit"));
  }

  // Routing.
  let sessionTarget = null;
  const routes = [
    [/^#\/projects$/, projectsView],
    [/^#\/projects\/([^/]+)$/, projectView],
    [/^#\/projects\/([^/]+)\/submit$/, submitView],
    [/^#\/projects\/([^/]+)\/skills$/, skillsView],
    [/^#\/projects\/([^/]+)\/skills\/([^/]+)$/, skillView],
    [/^#\/jobs\/([^/]+)$/, jobView],
    [/^#\/workers$/, workersView],
    [/^#\/users$/, usersView],
    [/^#\/audit$/, auditView],
  ];

  async function render() {
    generation += 1;
    const mine = generation;
    for (const stop of stopView) stop();
    stopView = [];
    const main = $("main");
    main.replaceChildren();
    const route = location.hash || "#/projects";
    renderChrome(route);
    if (!session.access) {
      if (route !== "#/login") sessionTarget = route;
      loginView(main);
      return;
    }
    if (route === "#/login") { location.hash = "#/projects"; return; }
    showError(null);
    const match = routes.map(([pattern, view]) => [route.match(pattern), view]).find(([m]) => m);
    if (!match) { main.append(el("h1", { text: "Not found" }), link("#/projects", "Projects")); return; }
    const [found, view] = match;
    try {
      await view(main, ...found.slice(1).map(decodeURIComponent));
    } catch (error) {
      if (mine === generation) showError(error);
    }
  }

  window.addEventListener("hashchange", render);
  document.addEventListener("DOMContentLoaded", render);
})();
"""##
}
