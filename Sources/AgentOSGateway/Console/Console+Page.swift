extension Console {
    /// The page: a header for the navigation and a main area the script fills. No inline
    /// script or style (the policy forbids them), and nothing loaded from another origin.
    static let indexHTML = ##"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>AgentOS console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/app.css">
<script src="/console/app.js" defer></script>
</head>
<body>
<header id="top">
<a id="brand" href="#/projects">AgentOS</a>
<nav id="nav"></nav>
<span id="who"></span>
</header>
<div id="error" role="alert" hidden></div>
<main id="main"><p>Loading…</p></main>
<noscript>The AgentOS console needs JavaScript; the API is at /api/v1 (see /api/v1/openapi.json).</noscript>
</body>
</html>
"""##

    /// The style sheet.
    static let appStyle = ##"""
:root { --fg: #1d2330; --muted: #5d6678; --line: #d9dde5; --bg: #f6f7f9; --accent: #2251c7; --bad: #b3261e; --good: #1b7f3b; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header#top { display: flex; align-items: center; gap: 1.5em; padding: 0.6em 1.2em; background: #1d2330; color: #fff; }
header#top a { color: #fff; text-decoration: none; }
#brand { font-weight: 700; letter-spacing: 0.02em; }
#nav { display: flex; gap: 1em; flex: 1; }
#nav a.current { text-decoration: underline; }
#who { color: #c9d1e3; display: flex; gap: 0.8em; align-items: center; }
#who button { background: transparent; color: #fff; border: 1px solid #8a93a8; }
main { max-width: 1100px; margin: 1.2em auto; padding: 0 1.2em; }
h1 { font-size: 1.4em; margin: 0.2em 0 0.6em; }
h2 { font-size: 1.1em; margin: 1.2em 0 0.4em; }
a { color: var(--accent); }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: 0.35em 0.6em; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #eef0f4; font-weight: 600; }
td.mono, .mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 0.92em; }
pre { background: #10141c; color: #e6e9ef; padding: 0.8em; border-radius: 4px; overflow: auto; max-height: 32em; white-space: pre-wrap; word-break: break-word; margin: 0.3em 0; }
pre.stderr { color: #ffb4ab; }
dl.fields { display: grid; grid-template-columns: max-content 1fr; gap: 0.25em 1.2em; background: #fff; border: 1px solid var(--line); padding: 0.8em; margin: 0; }
dl.fields dt { color: var(--muted); }
dl.fields dd { margin: 0; }
form.card, .card { background: #fff; border: 1px solid var(--line); padding: 1em; border-radius: 4px; max-width: 720px; }
form.card label { display: block; margin: 0.6em 0 0.2em; color: var(--muted); }
input, select, textarea { font: inherit; padding: 0.35em 0.5em; border: 1px solid #b9c0cc; border-radius: 3px; width: 100%; }
textarea { font-family: ui-monospace, "DejaVu Sans Mono", monospace; min-height: 8em; }
button { font: inherit; padding: 0.35em 0.9em; border-radius: 3px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
button.danger { background: var(--bad); border-color: var(--bad); }
button:disabled { opacity: 0.5; cursor: default; }
.actions { display: flex; gap: 0.8em; align-items: center; margin: 0.8em 0; }
.muted { color: var(--muted); }
.note { background: #fff7e0; border: 1px solid #e8d290; padding: 0.5em 0.8em; border-radius: 3px; }
#error { background: #fdecea; color: var(--bad); border-bottom: 1px solid #f2b8b5; padding: 0.6em 1.2em; white-space: pre-wrap; }
.status { display: inline-block; padding: 0 0.5em; border-radius: 3px; font-weight: 600; background: #e8eaef; }
.status-succeeded { background: #dff3e5; color: var(--good); }
.status-failed, .status-timed_out { background: #fdecea; color: var(--bad); }
.status-cancelled { background: #eee; color: var(--muted); }
.status-running { background: #e3ebff; color: var(--accent); }
.status-queued { background: #fff4d6; color: #7a5a00; }
.radio { display: flex; gap: 1.2em; }
.radio label { display: flex; gap: 0.4em; align-items: center; margin: 0; color: var(--fg); }
.radio input { width: auto; }
"""##
}
