/**
 * `GET /status`: one self-contained page (no external asset, no build step) that shows what
 * `GET /v1/status` returns, refreshed every 5 seconds, with live countdowns to each window's reset.
 * The page itself holds no fact: everything comes from /v1/status, which needs a client key when
 * PROXY_API_KEYS is set. The page then asks for one and keeps it in the tab's sessionStorage only
 * (never in a URL, never sent anywhere but /v1/status). Its Content-Security-Policy allows only its
 * own inline style and script (by hash) and requests to its own origin; data is written with
 * textContent, never as HTML.
 */
import { createHash } from "node:crypto";
import type { Reply } from "../http/reply.js";

const STYLE = `
:root{color-scheme:light dark;--bg:#f6f7f9;--card:#fff;--fg:#1b1f24;--dim:#5b6570;--line:#d8dde3;--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--bar:#2f81f7}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--card:#161b22;--fg:#e6edf3;--dim:#8d96a0;--line:#30363d;--ok:#3fb950;--warn:#d29922;--bad:#f85149;--bar:#388bfd}}
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:var(--bg);color:var(--fg)}
main{max-width:980px;margin:0 auto;padding:16px}h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:0 0 10px}
.dim{color:var(--dim)}.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px;margin:12px 0}
.state{display:inline-block;padding:1px 8px;border-radius:99px;font-weight:600;font-size:13px;border:1px solid currentColor}
.ok{color:var(--ok)}.refreshing,.resting{color:var(--warn)}.dead,.missing,.err{color:var(--bad)}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:6px 16px;margin:10px 0}
.bar{height:12px;border-radius:6px;background:var(--line);overflow:hidden;margin:4px 0}.bar>i{display:block;height:100%;background:var(--bar)}
.bar.high>i{background:var(--warn)}.bar.full>i{background:var(--bad)}
table{width:100%;border-collapse:collapse;font-size:13px}th,td{text-align:left;padding:4px 6px;border-bottom:1px solid var(--line);white-space:nowrap}
.scroll{overflow-x:auto}form{display:flex;gap:8px;flex-wrap:wrap}input{flex:1;min-width:200px;padding:8px;border-radius:6px;border:1px solid var(--line);background:var(--bg);color:var(--fg)}
button{padding:8px 14px;border-radius:6px;border:1px solid var(--line);background:var(--bar);color:#fff;font-weight:600}
.models span{display:inline-block;margin:2px 6px 2px 0;padding:1px 8px;border:1px solid var(--line);border-radius:99px;font-size:13px}
#keymsg{flex-basis:100%;margin:0}[hidden]{display:none!important}
`;

const SCRIPT = `
"use strict";
const KEY = "codex-openai-proxy.key";
const $ = (id) => document.getElementById(id);
let facts, fetchedAt = 0, timer;
function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined && text !== null) e.textContent = String(text); if (cls) e.className = cls; return e; }
function ago(iso) { if (!iso) return ""; const s = Math.round((Date.now() - Date.parse(iso)) / 1000); return s < 60 ? s + " s ago" : s < 3600 ? Math.round(s / 60) + " min ago" : Math.round(s / 360) / 10 + " h ago"; }
function left(iso) { if (!iso) return "unknown"; let s = Math.max(0, Math.round((Date.parse(iso) - Date.now()) / 1000)); const d = Math.floor(s / 86400); s -= d * 86400; const h = Math.floor(s / 3600); s -= h * 3600; const m = Math.floor(s / 60); s -= m * 60; return (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m " + String(s).padStart(2, "0") + "s"; }
function local(iso) { return iso ? new Date(iso).toLocaleString() : "—"; }
function askKey(message) { $("keyform").hidden = false; $("keymsg").textContent = message; $("content").hidden = true; $("key").focus(); }
async function load() {
  clearTimeout(timer);
  const key = sessionStorage.getItem(KEY);
  try {
    const res = await fetch("/v1/status", { headers: key ? { authorization: "Bearer " + key } : {}, cache: "no-store" });
    if (res.status === 401) { const had = !!key; sessionStorage.removeItem(KEY); askKey(had ? "That key was refused. Enter one of the proxy's client keys (PROXY_API_KEYS)." : "This proxy needs a client key. Enter one of its keys (PROXY_API_KEYS); it is kept in this tab only."); return; }
    const body = await res.json();
    if (!res.ok) { $("problem").hidden = false; $("problem").textContent = (body.error && body.error.message) || ("HTTP " + res.status); }
    else { $("problem").hidden = true; facts = body; fetchedAt = Date.now(); $("keyform").hidden = true; $("content").hidden = false; render(); }
  } catch (e) { $("problem").hidden = false; $("problem").textContent = "The proxy did not answer: " + e.message; }
  timer = setTimeout(load, 5000);
}
function row(table, cells, cls) { const tr = el("tr", null, cls); for (const c of cells) tr.append(el("td", c === undefined ? "" : c)); table.append(tr); }
function render() {
  const f = facts;
  $("meta").textContent = "v" + f.version + " · Node " + f.node + " · up " + left(new Date(Date.now() + f.uptime_s * 1000).toISOString()).replace(/ 00s$/, "") + (f.runtime === "lambda" ? " · Lambda instance " + f.instance : " · local") + " · upstream " + f.upstream + " · client keys " + f.client_keys;
  $("history").textContent = f.history;
  const logins = $("logins"); logins.replaceChildren();
  for (const l of f.logins) {
    const card = el("section", null, "card login");
    const h = el("h2", l.name + " "); h.append(el("span", l.state === "resting" ? "resting until " + local(l.resting_until) : l.state, "state " + l.state)); card.append(h);
    if (l.advice) card.append(el("p", l.advice, "advice " + l.state));
    const grid = el("div", null, "grid");
    const fact = (k, v) => { const d = el("div"); d.append(el("span", k + ": ", "dim"), el("span", v)); grid.append(d); };
    fact("plan", l.plan || "—"); fact("account", l.account || "—");
    fact("access token expires", l.access_expires_at ? local(l.access_expires_at) + " (in " + left(l.access_expires_at) + ")" : "—");
    fact("last refresh", l.last_refresh ? local(l.last_refresh) + " (" + ago(l.last_refresh) + ")" : "—");
    if (l.next_rotation) fact("next rotation", local(l.next_rotation));
    if (l.last_rotation) fact("last rotation", local(l.last_rotation));
    fact("last limit hit", l.last_limit_hit ? local(l.last_limit_hit.at) : "never, since start");
    card.append(grid);
    if (!l.windows.length) card.append(el("p", "No usage windows reported yet: they come with the backend's first answer.", "dim"));
    for (const w of l.windows) {
      const box = el("div", null, "window");
      const pct = typeof w.used_percent === "number" ? w.used_percent : null;
      const title = el("div"); title.append(el("strong", w.label + " window: "), el("span", pct === null ? "unknown" : pct + "% used", "pct"), el("span", " · resets in ", "dim"), el("span", left(w.resets_at), "countdown"));
      title.querySelector(".countdown").dataset.at = w.resets_at || "";
      const bar = el("div", null, "bar" + (pct >= 100 ? " full" : pct >= 80 ? " high" : "")); const fill = el("i"); fill.style.width = Math.min(100, Math.max(0, pct || 0)) + "%"; bar.append(fill);
      bar.setAttribute("role", "progressbar"); bar.setAttribute("aria-valuenow", String(pct ?? 0)); bar.setAttribute("aria-label", w.label + " window used");
      box.append(title, bar); card.append(box);
    }
    if (l.windows_observed_at) card.append(el("p", "as the backend reported them " + ago(l.windows_observed_at), "dim"));
    logins.append(card);
  }
  const models = $("models"); models.replaceChildren(); for (const id of f.models.ids) models.append(el("span", id)); models.append(el("p", "from " + f.models.source, "dim"));
  const cols = ["time", "dialect", "model", "status", "duration", "first byte", "tokens in / out", "request id"];
  const fill = (id, rows, errors) => {
    const t = $(id); t.replaceChildren(); const head = el("tr"); for (const c of errors ? ["time", "path", "status", "code", "request id"] : cols) head.append(el("th", c)); t.append(head);
    if (!rows.length) { const tr = el("tr"); const td = el("td", errors ? "No errors since start." : "No requests since start.", "dim"); td.colSpan = 8; tr.append(td); t.append(tr); return; }
    for (const r of rows) errors
      ? row(t, [new Date(r.at).toLocaleTimeString(), r.path, r.status, r.error_code || "", r.request_id], "err")
      : row(t, [new Date(r.at).toLocaleTimeString(), r.dialect || r.path, r.model || "", r.status, r.ms !== undefined ? r.ms + " ms" : "", r.ttfb_ms !== undefined ? r.ttfb_ms + " ms" : "", r.input_tokens !== undefined ? r.input_tokens + " / " + r.output_tokens : "", r.request_id], (r.status || 0) >= 400 ? "err" : "");
  };
  fill("requests", f.requests, false); fill("errors", f.errors, true);
}
setInterval(() => { for (const c of document.querySelectorAll(".countdown")) c.textContent = left(c.dataset.at); }, 1000);
$("keyform").addEventListener("submit", (e) => { e.preventDefault(); const v = $("key").value.trim(); if (!v) return; sessionStorage.setItem(KEY, v); $("key").value = ""; load(); });
$("forget").addEventListener("click", () => { sessionStorage.removeItem(KEY); location.reload(); });
load();
`;

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>codex-openai-proxy status</title><meta name="referrer" content="no-referrer"><style>${STYLE}</style></head>
<body><main>
<h1>codex-openai-proxy</h1><p id="meta" class="dim">loading…</p>
<p id="problem" class="card err" hidden></p>
<form id="keyform" class="card" hidden autocomplete="off"><p id="keymsg"></p><input id="key" type="password" placeholder="client key" aria-label="client key"><button>Show status</button></form>
<div id="content" hidden>
<div id="logins"></div>
<section class="card"><h2>Models on offer</h2><div id="models" class="models"></div></section>
<section class="card"><h2>Last requests</h2><p id="history" class="dim"></p><div class="scroll"><table id="requests"></table></div></section>
<section class="card"><h2>Last errors</h2><div class="scroll"><table id="errors"></table></div></section>
<p class="dim">Refreshes every 5 seconds. <button id="forget" type="button">Forget the key</button></p>
</div>
</main><script>${SCRIPT}</script></body></html>`;

const hash = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;

/** Only this page's own style and script, and requests to its own origin. */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  `style-src ${hash(STYLE)}`,
  `script-src ${hash(SCRIPT)}`,
  "connect-src 'self'",
  "img-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

export function statusPage(): Reply {
  return {
    status: 200,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": STATUS_PAGE_CSP,
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
    },
    body: PAGE,
  };
}
