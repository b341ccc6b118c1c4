/* Drover console: the Batch and Logs APIs through the gateway's session
 * (POST /console/api/<Operation>, the CSRF token in X-CSRF-Token). Every
 * value shown goes through textContent: nothing a job carries is markup. */
"use strict";

const STATES = ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING",
                "SUCCEEDED", "FAILED"];
let csrf = null;
let timer = null;
/* the route being shown: a page's render or refresh that finds another
 * route shown since it began is dropped (and its polling stops) */
let gen = 0;

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const k of kids.flat(Infinity)) {
    if (k === null || k === undefined) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

async function post(path, body) {
  const headers = {"Content-Type": "application/json"};
  if (csrf) headers["X-CSRF-Token"] = csrf;
  const r = await fetch(path, {method: "POST", headers, credentials: "same-origin",
                               body: JSON.stringify(body || {})});
  const j = await r.json().catch(() => ({}));
  if (r.status === 401) { showLogin(); throw new Error(j.message || "log in"); }
  if (!r.ok) throw new Error((j.__type ? j.__type + ": " : "") + (j.message || r.status));
  return j;
}

const api = (op, body) => post("/console/api/" + op, body);

function when(ms) { return ms ? new Date(ms).toLocaleString() : "-"; }

function status(s) { return el("span", {class: "status-" + s}, s); }

function view(...kids) {
  if (timer) { clearTimeout(timer); timer = null; }
  const v = document.getElementById("view");
  v.replaceChildren(...kids.flat(Infinity).filter(k => k !== null && k !== undefined));
  return v;
}

function fail(e) { view(el("p", {class: "error", role: "alert"}, String(e.message || e))); }

/* ---- login ------------------------------------------------------------- */

function showLogin() {
  csrf = null;
  gen++;
  document.getElementById("nav").hidden = true;
  document.getElementById("login").hidden = false;
  view();
  document.getElementById("key").focus();
}

async function login(ev) {
  ev.preventDefault();
  const err = document.getElementById("login-error");
  err.textContent = "";
  try {
    const r = await post("/console/login", {
      accessKeyId: document.getElementById("key").value,
      secretAccessKey: document.getElementById("secret").value});
    document.getElementById("secret").value = "";
    started(r);
  } catch (e) { err.textContent = e.message; }
}

function started(session) {
  csrf = session.csrfToken;
  document.getElementById("who").textContent = session.accessKeyId;
  document.getElementById("login").hidden = true;
  document.getElementById("nav").hidden = false;
  route();
}

/* ---- dashboard ----------------------------------------------------------- */

async function counts(queue) {
  const out = {};
  await Promise.all(STATES.map(async s => {
    const r = await api("ListJobs", {jobQueue: queue, jobStatus: s, maxResults: 100});
    out[s] = r.jobSummaryList.length + (r.nextToken ? "+" : "");
  }));
  return out;
}

async function dashboard(g) {
  const [qs, ces] = await Promise.all([api("DescribeJobQueues", {}),
                                       api("DescribeComputeEnvironments", {})]);
  const rows = await Promise.all(qs.jobQueues.map(async q => {
    const c = await counts(q.jobQueueName);
    const link = s => el("a", {href: "#/jobs?queue=" + encodeURIComponent(q.jobQueueName) +
                                     "&status=" + s}, c[s]);
    return el("tr", {}, el("th", {scope: "row"}, q.jobQueueName),
              el("td", {}, q.state), el("td", {class: "num"}, q.priority),
              STATES.map(s => el("td", {class: "num"}, link(s))));
  }));
  if (g !== gen) return;
  view(el("h1", {}, "Dashboard"),
       el("h2", {}, "Job queues"),
       el("div", {class: "table-wrap"}, el("table", {id: "queues"},
         el("thead", {}, el("tr", {}, el("th", {}, "Queue"), el("th", {}, "State"),
                               el("th", {}, "Priority"), STATES.map(s => el("th", {}, s)))),
         el("tbody", {}, rows))),
       el("h2", {}, "Compute environments"),
       el("div", {class: "table-wrap"}, el("table", {id: "ces"},
         el("thead", {}, el("tr", {}, ["Name", "Type", "State", "Status", "Max vCPUs"].map(
           h => el("th", {}, h)))),
         el("tbody", {}, ces.computeEnvironments.map(c => el("tr", {},
           el("th", {scope: "row"}, c.computeEnvironmentName), el("td", {}, c.type),
           el("td", {}, c.state), el("td", {}, c.status),
           el("td", {class: "num"}, (c.computeResources || {}).maxvCpus ?? "-")))))),
       el("p", {class: "muted"}, "Refreshed every 5 s."));
  timer = setTimeout(() => dashboard(g).catch(fail), 5000);
}

/* ---- jobs ------------------------------------------------------------------ */

async function jobs(params, g) {
  const qs = await api("DescribeJobQueues", {});
  const queue = params.get("queue") || (qs.jobQueues[0] || {}).jobQueueName;
  const st = params.get("status") || "RUNNING";
  const name = params.get("name") || "";
  const req = {jobQueue: queue, maxResults: 50};
  if (name) req.filters = [{name: "JOB_NAME", values: [name]}];
  else req.jobStatus = st;
  if (params.get("token")) req.nextToken = params.get("token");
  const r = queue ? await api("ListJobs", req) : {jobSummaryList: []};
  const list = r.jobSummaryList.sort((a, b) => (b.createdAt || 0) - (a.createdAt || 0));
  const go = (extra) => {
    const p = new URLSearchParams({queue, status: st, ...extra});
    if (name && !extra.name) p.set("name", name);
    location.hash = "#/jobs?" + p.toString();
  };
  const qsel = el("select", {id: "f-queue", onchange: e => go({queue: e.target.value})},
                  qs.jobQueues.map(q => {
                    const o = el("option", {value: q.jobQueueName}, q.jobQueueName);
                    if (q.jobQueueName === queue) o.selected = true;
                    return o;
                  }));
  const ssel = el("select", {id: "f-status", onchange: e => go({status: e.target.value})},
                  STATES.map(s => {
                    const o = el("option", {value: s}, s);
                    if (s === st) o.selected = true;
                    return o;
                  }));
  const nin = el("input", {id: "f-name", value: name, placeholder: "job name (a trailing * matches a prefix)"});
  if (g !== gen) return;
  view(el("h1", {}, "Jobs"),
       el("form", {class: "filters", onsubmit: e => { e.preventDefault(); go({name: nin.value}); }},
          el("label", {}, "Queue", qsel), el("label", {}, "Status", ssel),
          el("label", {}, "Name", nin), el("button", {type: "submit"}, "Search")),
       el("div", {class: "table-wrap"}, el("table", {id: "jobs"},
         el("thead", {}, el("tr", {}, ["Name", "Job ID", "Status", "Created", "Started",
                                      "Stopped"].map(h => el("th", {}, h)))),
         el("tbody", {}, list.map(j => el("tr", {},
           el("td", {}, j.jobName),
           el("td", {}, el("a", {href: "#/job/" + encodeURIComponent(j.jobId)}, j.jobId)),
           el("td", {}, status(j.status)), el("td", {}, when(j.createdAt)),
           el("td", {}, when(j.startedAt)), el("td", {}, when(j.stoppedAt))))))),
       list.length ? null : el("p", {class: "muted"}, "No jobs."),
       r.nextToken ? el("button", {type: "button", class: "secondary",
                                   onclick: () => go({token: r.nextToken})}, "Next page") : null);
}

/* ---- one job ----------------------------------------------------------------- */

function fields(pairs) {
  return el("dl", {class: "fields"}, pairs.filter(p => p[1] !== undefined && p[1] !== null)
    .map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

async function showLog(pre, stream, state) {
  const req = {logGroupName: "/aws/batch/job", logStreamName: stream, startFromHead: true};
  if (state.token) req.nextToken = state.token;
  const r = await api("GetLogEvents", req);
  for (const e of r.events) pre.append(e.message + "\n");
  state.token = r.nextForwardToken;
  pre.scrollTop = pre.scrollHeight;
}

async function job(id, g) {
  const r = await api("DescribeJobs", {jobs: [id]});
  if (g !== gen) return;
  const j = r.jobs[0];
  if (!j) return view(el("p", {class: "error"}, "No job " + id));
  const c = j.container || {};
  const attempts = j.attempts || [];
  const summary = (j.arrayProperties || {}).statusSummary;
  const parts = [];
  if (summary) {
    const size = j.arrayProperties.size || 1;
    parts.push(el("h2", {}, "Children"),
      el("div", {class: "progress", role: "img", "aria-label": STATES.map(s => s + " " + (summary[s] || 0)).join(", ")},
         STATES.filter(s => summary[s]).map(s => el("span", {class: s, title: s + ": " + summary[s]}))),
      el("p", {class: "muted", id: "children"}, STATES.filter(s => summary[s]).map(s => s + " " + summary[s]).join(" \u00b7 ") +
         " of " + size));
    const bars = parts[1].children;
    let k = 0;
    for (const s of STATES.filter(s => summary[s])) bars[k++].style.width = (100 * summary[s] / size) + "%";
  }
  const reason = el("input", {id: "stop-reason", value: "Stopped from the console", "aria-label": "Reason"});
  const stop = (op) => api(op, {jobId: j.jobId, reason: reason.value}).then(() => job(id, g)).catch(fail);
  const pre = el("pre", {class: "log", id: "log", tabindex: "0"});
  view(el("h1", {}, j.jobName, " ", status(j.status)),
       fields([["Job ID", j.jobId], ["Status reason", j.statusReason], ["Queue", j.jobQueue],
               ["Definition", j.jobDefinition], ["Created", when(j.createdAt)],
               ["Started", when(j.startedAt)], ["Stopped", when(j.stoppedAt)],
               ["Exit code", c.exitCode], ["Reason", c.reason],
               ["Command", (c.command || []).join(" ")],
               ["Parameters", Object.entries(j.parameters || {}).map(([k, v]) => k + "=" + v).join(", ") || "-"],
               ["Environment", (c.environment || []).map(e => e.name + "=" + e.value).join(", ") || "-"],
               ["Secrets", (c.secrets || []).map(s => s.name).join(", ") || "-"],
               ["Depends on", (j.dependsOn || []).map(d => d.jobId + (d.type ? " (" + d.type + ")" : "")).join(", ") || "-"]]),
       ["SUCCEEDED", "FAILED"].includes(j.status) ? null : el("div", {class: "actions"},
         el("label", {for: "stop-reason"}, "Reason"), reason,
         el("button", {type: "button", id: "cancel", class: "secondary", onclick: () => stop("CancelJob")}, "Cancel"),
         el("button", {type: "button", id: "terminate", onclick: () => stop("TerminateJob")}, "Terminate")),
       parts,
       el("h2", {}, "Attempts"),
       el("div", {class: "table-wrap"}, el("table", {id: "attempts"},
         el("thead", {}, el("tr", {}, ["#", "Started", "Stopped", "Exit code", "Reason", "Log stream"].map(h => el("th", {}, h)))),
         el("tbody", {}, attempts.map((a, i) => el("tr", {},
           el("td", {class: "num"}, i + 1), el("td", {}, when(a.startedAt)), el("td", {}, when(a.stoppedAt)),
           el("td", {class: "num"}, (a.container || {}).exitCode ?? "-"),
           el("td", {}, (a.container || {}).reason || a.statusReason || "-"),
           el("td", {}, (a.container || {}).logStreamName || "-")))))),
       el("h2", {}, "Log", c.logStreamName ? el("span", {class: "muted"}, " " + c.logStreamName) : null),
       c.logStreamName ? pre : el("p", {class: "muted"}, "No log until the job runs."));
  if (c.logStreamName) {
    const state = {};
    const follow = async () => {
      await showLog(pre, c.logStreamName, state);
      const now = (await api("DescribeJobs", {jobs: [id]})).jobs[0];
      if (g !== gen) return; /* another page is shown now */
      if (now && !["SUCCEEDED", "FAILED"].includes(now.status)) {
        timer = setTimeout(() => follow().catch(fail), 2000);
      } else if (now && now.status !== j.status) {
        job(id, g).catch(fail); /* finished: show it whole */
      }
    };
    await follow();
  } else if (!["SUCCEEDED", "FAILED"].includes(j.status)) {
    timer = setTimeout(() => job(id, g).catch(fail), 2000);
  }
}

/* ---- routing ------------------------------------------------------------------- */

function route() {
  if (!csrf) return;
  const g = ++gen;
  const h = location.hash || "#/dashboard";
  const [path, query] = h.slice(1).split("?");
  const params = new URLSearchParams(query || "");
  let p;
  if (path.startsWith("/job/")) p = job(decodeURIComponent(path.slice(5)), g);
  else if (path === "/jobs") p = jobs(params, g);
  else p = dashboard(g);
  p.catch(fail);
}

document.addEventListener("DOMContentLoaded", async () => {
  document.getElementById("login-form").addEventListener("submit", login);
  document.getElementById("logout").addEventListener("click", async () => {
    try { await post("/console/logout", {}); } catch (e) { /* gone already */ }
    showLogin();
  });
  window.addEventListener("hashchange", route);
  const r = await fetch("/console/session", {credentials: "same-origin"});
  const session = r.ok ? await r.json() : {};
  if (session.csrfToken) started(session);
  else showLogin();
});
