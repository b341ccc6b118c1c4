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

/* an action's refusal, above the page it was asked from */
function flash(e) {
  const v = document.getElementById("view");
  v.querySelectorAll(".flash").forEach(x => x.remove());
  v.prepend(el("p", {class: "error flash", role: "alert"}, String(e.message || e)));
}

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
         el("thead", {}, el("tr", {}, ["Name", "Type", "State", "Status", "Workers",
                                      "vCPUs in use", "Memory in use (MiB)"].map(h => el("th", {}, h)))),
         el("tbody", {}, ces.computeEnvironments.map(c => {
           const k = c.capacity || {};
           const of = (used, total) => (used ?? "-") + " of " + (total ?? "-");
           return el("tr", {},
             el("th", {scope: "row"}, c.computeEnvironmentName), el("td", {}, c.type),
             el("td", {}, c.state), el("td", {}, c.status),
             el("td", {class: "num"}, k.workers ?? "-"),
             el("td", {class: "num"}, of(k.vcpusInUse, k.vcpus)),
             el("td", {class: "num"}, of(k.memoryMiBInUse, k.memoryMiB)));
         })))),
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

/* ---- the dependency graph ------------------------------------------------------ */

const SVGNS = "http://www.w3.org/2000/svg";

function svg(tag, attrs, ...kids) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
}

const cut = (s, n) => s.length > n ? s.slice(0, n - 1) + "\u2026" : s;

/* The job in the middle, what it depends on at the left, its dependents
 * at the right; each box a link to its job. */
function graph(j, before, after) {
  const W = 230, H = 46, GAP = 12, X = [0, 300, 600];
  const n = Math.max(before.length, after.length, 1);
  const height = n * (H + GAP) - GAP;
  const ids = [];
  const box = (x, y, b, self) => {
    const g = svg("a", {href: "#/job/" + encodeURIComponent(b.jobId), class: "node" + (self ? " self" : "")},
      svg("title", {}, b.jobName + " (" + b.jobId + ")" + (b.type ? " " + b.type : "")),
      svg("rect", {x, y, width: W, height: H, rx: 5, class: "box status-" + b.status}),
      svg("text", {x: x + 8, y: y + 19, class: "name"}, cut(b.jobName || b.jobId, 28)),
      svg("text", {x: x + 8, y: y + 37, class: "state status-" + b.status},
          (b.status || "?") + (b.type ? " \u00b7 " + b.type : "")));
    ids.push(b.jobId);
    return g;
  };
  const mid = (height - H) / 2;
  const kids = [];
  const col = (list, x) => list.map((b, i) => {
    const y = i * (H + GAP) + (height - (list.length * (H + GAP) - GAP)) / 2;
    const [x1, x2] = x < X[1] ? [x + W, X[1]] : [X[1] + W, x];
    const [y1, y2] = x < X[1] ? [y + H / 2, mid + H / 2] : [mid + H / 2, y + H / 2];
    kids.push(svg("path", {d: `M${x1},${y1} C${(x1 + x2) / 2},${y1} ${(x1 + x2) / 2},${y2} ${x2 - 6},${y2}`,
                           class: "edge", "marker-end": "url(#arrow)"}));
    return box(x, y, b, false);
  });
  const nodes = [...col(before, X[0]), ...col(after, X[2]), box(X[1], mid, j, true)];
  return svg("svg", {id: "graph", viewBox: `-2 -2 ${X[2] + W + 4} ${height + 4}`, role: "img",
                     "aria-label": "Depends on " + (before.map(b => b.jobName).join(", ") || "nothing") +
                       "; needed by " + (after.map(b => b.jobName).join(", ") || "nothing")},
    svg("defs", {}, svg("marker", {id: "arrow", viewBox: "0 0 10 10", refX: "8", refY: "5", markerWidth: "7",
                                   markerHeight: "7", orient: "auto-start-reverse"},
                        svg("path", {d: "M0,0 L10,5 L0,10 z", class: "arrow"}))),
    ...kids, ...nodes);
}

async function dependencies(j) {
  const deps = (j.dependsOn || []).filter(d => d.jobId);
  const got = deps.length ? (await api("DescribeJobs", {jobs: deps.map(d => d.jobId)})).jobs : [];
  const by = new Map(got.map(x => [x.jobId, x]));
  const before = deps.map(d => Object.assign({jobName: d.jobId, status: "?"}, by.get(d.jobId) || {},
                                             {type: d.type}));
  const qs = (await api("DescribeJobQueues", {})).jobQueues;
  const after = (await Promise.all(qs.map(q => api("ListJobs", {
    jobQueue: q.jobQueueName, maxResults: 100, filters: [{name: "DEPENDS_ON", values: [j.jobId]}]})
    .then(r => r.jobSummaryList)))).flat();
  return {before, after};
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

const FINAL = ["SUCCEEDED", "FAILED"];

/* A job's page; re-read every 2 s until it finishes, and drawn again only
 * when something shown changed (what is being typed stays). */
async function job(id, g, last, from) {
  const r = await api("DescribeJobs", {jobs: [id]});
  if (g !== gen) return;
  const j = r.jobs[0];
  if (!j) return view(el("p", {class: "error"}, "No job " + id));
  const c = j.container || {};
  const attempts = j.attempts || [];
  const summary = (j.arrayProperties || {}).statusSummary;
  /* children by index, a hundred at a time (their ids are the parent's
   * and the index) */
  const size = summary ? j.arrayProperties.size || 0 : 0;
  from = Math.max(0, Math.min(from || 0, size - 1));
  const ids = [];
  for (let i = from; i < Math.min(size, from + 100); i++) ids.push(j.jobId + ":" + i);
  const [dg, kids] = await Promise.all([
    dependencies(j), ids.length ? api("DescribeJobs", {jobs: ids}) : null]);
  if (g !== gen) return;
  const children = kids ? kids.jobs.sort((a, b) => a.arrayProperties.index - b.arrayProperties.index) : [];
  const sig = JSON.stringify([j.status, j.statusReason, summary, attempts.length, c.logStreamName,
                              dg.before.map(x => x.status), dg.after.map(x => [x.jobId, x.status]),
                              children.map(x => x.status)]);
  const again = () => { if (!FINAL.includes(j.status) || (summary && children.some(x => !FINAL.includes(x.status))))
                          timer = setTimeout(() => job(id, g, sig, from).catch(fail), 2000); };
  if (sig === last) return again();
  const parts = [];
  const page = (k) => el("button", {type: "button", class: "secondary", id: k < from ? "children-previous" : "children-next",
                                    onclick: () => job(id, g, null, k).catch(fail)},
                        k < from ? "Previous 100" : "Next 100");
  if (summary) {
    const bar = el("div", {class: "progress", role: "img",
                           "aria-label": STATES.map(s => s + " " + (summary[s] || 0)).join(", ")},
                   STATES.filter(s => summary[s]).map(s => el("span", {class: s, title: s + ": " + summary[s]})));
    let k = 0;
    for (const s of STATES.filter(s => summary[s])) bar.children[k++].style.width = (100 * summary[s] / Math.max(size, 1)) + "%";
    parts.push(el("h2", {}, "Children"), bar,
      el("p", {class: "muted", id: "children"}, STATES.filter(s => summary[s]).map(s => s + " " + summary[s])
         .join(" \u00b7 ") + " of " + size),
      el("div", {class: "table-wrap"}, el("table", {id: "child-list"},
        el("thead", {}, el("tr", {}, ["Index", "Job ID", "Status", "Started", "Stopped"].map(h => el("th", {}, h)))),
        el("tbody", {}, children.map(x => el("tr", {},
          el("td", {class: "num"}, (x.arrayProperties || {}).index ?? "-"),
          el("td", {}, el("a", {href: "#/job/" + encodeURIComponent(x.jobId)}, x.jobId)),
          el("td", {}, status(x.status)), el("td", {}, when(x.startedAt)), el("td", {}, when(x.stoppedAt))))))),
      el("div", {class: "actions"}, el("span", {class: "muted"}, "Children " + from + " to " + (from + children.length - 1)),
         from > 0 ? page(Math.max(0, from - 100)) : null, from + 100 < size ? page(from + 100) : null));
  }
  const reason = el("input", {id: "stop-reason", value: "Stopped from the console", "aria-label": "Reason"});
  const stop = (op) => api(op, {jobId: j.jobId, reason: reason.value}).then(() => job(id, g, null, from)).catch(flash);
  const pre = el("pre", {class: "log", id: "log", tabindex: "0"});
  view(el("h1", {}, j.jobName, " ", status(j.status)),
       fields([["Job ID", j.jobId], ["Status reason", j.statusReason], ["Queue", j.jobQueue],
               ["Definition", j.jobDefinition], ["Created", when(j.createdAt)],
               ["Started", when(j.startedAt)], ["Stopped", when(j.stoppedAt)],
               ["Exit code", c.exitCode], ["Reason", c.reason],
               ["Command", (c.command || []).join(" ")],
               ["Array", summary ? "size " + j.arrayProperties.size : (j.arrayProperties || {}).index !== undefined
                 ? el("span", {}, "child " + j.arrayProperties.index + " of ",
                      el("a", {href: "#/job/" + encodeURIComponent(j.jobId.split(":")[0])}, j.jobId.split(":")[0]))
                 : undefined],
               ["Parameters", Object.entries(j.parameters || {}).map(([k, v]) => k + "=" + v).join(", ") || "-"],
               ["Environment", (c.environment || []).map(e => e.name + "=" + e.value).join(", ") || "-"],
               ["Secrets", (c.secrets || []).map(s => s.name).join(", ") || "-"]]),
       FINAL.includes(j.status) ? null : el("div", {class: "actions"},
         el("label", {for: "stop-reason"}, "Reason"), reason,
         el("button", {type: "button", id: "cancel", class: "secondary", onclick: () => stop("CancelJob")}, "Cancel"),
         el("button", {type: "button", id: "terminate", onclick: () => stop("TerminateJob")}, "Terminate")),
       parts,
       el("h2", {}, "Dependencies"),
       dg.before.length || dg.after.length
         ? el("div", {class: "graph-wrap"}, graph(j, dg.before, dg.after))
         : el("p", {class: "muted", id: "no-graph"}, "No dependencies and no dependents."),
       el("h2", {}, "Attempts"),
       el("div", {class: "table-wrap"}, el("table", {id: "attempts"},
         el("thead", {}, el("tr", {}, ["#", "Started", "Stopped", "Exit code", "Reason", "Log stream"].map(h => el("th", {}, h)))),
         el("tbody", {}, attempts.map((a, i) => el("tr", {},
           el("td", {class: "num"}, i + 1), el("td", {}, when(a.startedAt)), el("td", {}, when(a.stoppedAt)),
           el("td", {class: "num"}, (a.container || {}).exitCode ?? "-"),
           el("td", {}, (a.container || {}).reason || a.statusReason || "-"),
           el("td", {}, (a.container || {}).logStreamName || "-")))))),
       summary ? null : [
         el("h2", {}, "Log", c.logStreamName ? el("span", {class: "muted"}, " " + c.logStreamName) : null),
         c.logStreamName ? pre : el("p", {class: "muted"}, "No log until the job runs.")]);
  if (c.logStreamName && !summary) {
    const state = {};
    const follow = async () => {
      await showLog(pre, c.logStreamName, state);
      const now = (await api("DescribeJobs", {jobs: [id]})).jobs[0];
      if (g !== gen) return; /* another page is shown now */
      if (now && !FINAL.includes(now.status)) {
        timer = setTimeout(() => follow().catch(fail), 2000);
      } else if (now && now.status !== j.status) {
        job(id, g).catch(fail); /* finished: show it whole */
      }
    };
    await follow();
  } else {
    again();
  }
}

/* ---- forms ---------------------------------------------------------------- */

function input(id, label, attrs) {
  const i = el("input", Object.assign({id, name: id}, attrs || {}));
  return {node: el("label", {for: id}, label), input: i};
}

function options(values, selected) {
  return values.map(v => {
    const [value, text] = Array.isArray(v) ? v : [v, v];
    const o = el("option", {value}, text);
    if (value === selected) o.selected = true;
    return o;
  });
}

/* Rows of inputs (parameters, environment, dependencies): cols are
 * [key, label, kind ("text" or a list of options)]; check(row) returns a
 * refusal shown beside the row, or "". */
function rows(id, title, cols, check) {
  const body = el("div", {class: "rows", id});
  const add = (vals) => {
    const r = el("div", {class: "row"});
    const ins = cols.map(([k, label, kind], i) => {
      const x = Array.isArray(kind)
        ? el("select", {"aria-label": label, "data-key": k}, options(kind, (vals || {})[k]))
        : el("input", {"aria-label": label, placeholder: label, "data-key": k,
                       value: (vals || {})[k] || ""});
      x.id = id + "-" + body.children.length + "-" + i;
      return x;
    });
    const msg = el("span", {class: "error row-error", role: "alert"});
    const onin = () => { msg.textContent = check ? check(rowValue(r)) : ""; };
    ins.forEach(x => x.addEventListener("input", onin));
    r.append(...ins, el("button", {type: "button", class: "secondary", "aria-label": "Remove",
                                   onclick: () => { r.remove(); body.dispatchEvent(new Event("input", {bubbles: true})); }}, "\u00d7"), msg);
    body.append(r);
    return r;
  };
  const rowValue = (r) => Object.fromEntries([...r.querySelectorAll("[data-key]")].map(
    x => [x.dataset.key, x.value.trim()]));
  const values = () => [...body.children].map(rowValue).filter(v => Object.values(v)[0]);
  const errors = () => [...body.querySelectorAll(".row-error")].map(e => e.textContent).filter(Boolean);
  const node = el("fieldset", {}, el("legend", {}, title), body,
                  el("button", {type: "button", class: "secondary", id: id + "-add",
                                onclick: () => add().querySelector("[data-key]").focus()}, "Add"));
  return {node, add, values, errors};
}

/* A form whose fields write the request into a JSON box the user may
 * edit before sending: what is sent is the box. */
function requestForm(id, parts, build, op, done) {
  const box = el("textarea", {id: id + "-json", rows: "10", spellcheck: "false",
                              "aria-label": "Request JSON"});
  const err = el("p", {class: "error", role: "alert", id: id + "-error"});
  let edited = false;
  box.addEventListener("input", () => { edited = true; });
  const refresh = () => {
    if (edited) return;
    try { box.value = JSON.stringify(build(), null, 2); } catch (e) { box.value = ""; }
  };
  const form = el("form", {id, class: "request", onsubmit: async (ev) => {
    ev.preventDefault();
    err.textContent = "";
    let req;
    try { build(); } catch (e) { err.textContent = e.message; return; }
    try { req = JSON.parse(box.value); } catch (e) { err.textContent = "Request JSON: " + e.message; return; }
    try { done(await api(op, req)); } catch (e) { err.textContent = e.message; }
  }}, parts,
    el("details", {}, el("summary", {}, "Request JSON (edit to send other fields)"), box,
       el("button", {type: "button", class: "secondary", onclick: () => { edited = false; refresh(); }},
          "Rebuild from the form")),
    el("button", {type: "submit", id: id + "-send"}, op.replace(/([a-z])([A-Z])/g, "$1 $2")), err);
  form.addEventListener("input", (e) => { if (e.target !== box) refresh(); });
  form.addEventListener("change", (e) => { if (e.target !== box) refresh(); });
  setTimeout(refresh, 0);
  return form;
}

const num = (x) => x.value.trim() === "" ? undefined : Number(x.value);

function command(text) {
  const t = text.trim();
  if (!t) return undefined;
  if (t.startsWith("[")) {
    const c = JSON.parse(t);
    if (!Array.isArray(c) || c.some(x => typeof x !== "string")) throw new Error("Command: a JSON list of strings");
    return c;
  }
  return t.split(/\s+/);
}

const reservedEnv = (r) => /^(AWS_BATCH|DROVER_)/.test(r.name || "")
  ? "Names starting with AWS_BATCH or DROVER_ are reserved" : "";

async function definitions(status) {
  const out = [];
  let token;
  for (let i = 0; i < 10; i++) {
    const req = {maxResults: 100};
    if (status) req.status = status;
    if (token) req.nextToken = token;
    const r = await api("DescribeJobDefinitions", req);
    out.push(...r.jobDefinitions);
    if (!(token = r.nextToken)) break;
  }
  return out;
}

/* ---- submit ------------------------------------------------------------------ */

async function submitPage(params, g) {
  const [qs, defs] = await Promise.all([api("DescribeJobQueues", {}), definitions("ACTIVE")]);
  if (g !== gen) return;
  defs.sort((a, b) => a.jobDefinitionName.localeCompare(b.jobDefinitionName) || b.revision - a.revision);
  const name = input("s-name", "Name", {required: "", maxlength: "128",
                                        pattern: "[A-Za-z0-9][A-Za-z0-9_\\-]{0,127}"});
  const def = el("select", {id: "s-definition"}, options(defs.map(d => d.jobDefinitionName + ":" + d.revision),
                                                         params.get("definition")));
  const queue = el("select", {id: "s-queue"}, options(qs.jobQueues.map(q => q.jobQueueName), params.get("queue")));
  const size = input("s-array-size", "Array size", {type: "number", min: "2", max: "10000",
                                                     placeholder: "none: one job"});
  const seq = el("input", {type: "checkbox", id: "s-sequential"});
  const deps = rows("s-deps", "Dependencies", [["jobId", "Job ID", "text"],
                                               ["type", "Type", [["", "the whole job"], "N_TO_N", "SEQUENTIAL"]]]);
  const pars = rows("s-params", "Parameters", [["name", "Name", "text"], ["value", "Value", "text"]]);
  const env = rows("s-env", "Environment variables", [["name", "Name", "text"], ["value", "Value", "text"]],
                   reservedEnv);
  const cmd = input("s-command", "Command", {placeholder: "the definition's"});
  const vcpus = input("s-vcpus", "vCPUs", {type: "number", min: "0.25", step: "0.25"});
  const mem = input("s-memory", "Memory (MiB)", {type: "number", min: "4"});
  const gpus = input("s-gpus", "GPUs", {type: "number", min: "0"});
  const attempts = input("s-attempts", "Attempts", {type: "number", min: "1", max: "10"});
  const timeout = input("s-timeout", "Timeout (seconds)", {type: "number", min: "60"});
  const build = () => {
    const r = {jobName: name.input.value.trim(), jobQueue: queue.value, jobDefinition: def.value};
    const n = num(size.input);
    if (n !== undefined) r.arrayProperties = {size: n};
    const d = deps.values().map(x => x.type ? x : {jobId: x.jobId});
    if (seq.checked) d.push({type: "SEQUENTIAL"});
    if (d.length) r.dependsOn = d;
    const p = pars.values();
    if (p.length) r.parameters = Object.fromEntries(p.map(x => [x.name, x.value]));
    const bad = env.errors();
    if (bad.length) throw new Error(bad[0]);
    const o = {};
    const e = env.values();
    if (e.length) o.environment = e;
    const c = command(cmd.input.value);
    if (c) o.command = c;
    const rr = [["VCPU", vcpus], ["MEMORY", mem], ["GPU", gpus]]
      .filter(([, f]) => f.input.value.trim()).map(([type, f]) => ({type, value: f.input.value.trim()}));
    if (rr.length) o.resourceRequirements = rr;
    if (Object.keys(o).length) r.containerOverrides = o;
    if (num(attempts.input) !== undefined) r.retryStrategy = {attempts: num(attempts.input)};
    if (num(timeout.input) !== undefined) r.timeout = {attemptDurationSeconds: num(timeout.input)};
    return r;
  };
  view(el("h1", {}, "Submit job"),
       defs.length ? null : el("p", {class: "error"}, "No active job definition: register one first."),
       requestForm("submit", [
         el("div", {class: "grid"},
            el("div", {}, name.node, name.input),
            el("div", {}, el("label", {for: "s-definition"}, "Job definition"), def),
            el("div", {}, el("label", {for: "s-queue"}, "Job queue"), queue),
            el("div", {}, size.node, size.input,
               el("label", {class: "check"}, seq, " Run children sequentially"))),
         deps.node, pars.node, env.node,
         el("fieldset", {}, el("legend", {}, "Overrides"),
            el("div", {class: "grid"},
               el("div", {class: "wide"}, cmd.node, cmd.input,
                  el("small", {class: "muted hint"}, "Words split at spaces, or a JSON list")),
               ...[vcpus, mem, gpus, attempts, timeout].map(f => el("div", {}, f.node, f.input))))],
         build, "SubmitJob", (r) => { location.hash = "#/job/" + encodeURIComponent(r.jobId); }));
  name.input.focus();
}

/* ---- job definitions ------------------------------------------------------------ */

const registrable = ["jobDefinitionName", "type", "parameters", "schedulingPriority", "retryStrategy",
                     "containerProperties", "timeout", "tags", "propagateTags", "platformCapabilities",
                     "nodeProperties", "eksProperties"];

function resource(d, t) {
  return ((d.containerProperties || {}).resourceRequirements || []).filter(r => r.type === t)
    .map(r => r.value)[0] ?? (t === "VCPU" ? (d.containerProperties || {}).vcpus
                             : t === "MEMORY" ? (d.containerProperties || {}).memory : undefined);
}

function registerForm(latest) {
  const cp = (latest || {}).containerProperties || {};
  const name = input("d-name", "Name", {required: "", value: latest ? latest.jobDefinitionName : ""});
  if (latest) name.input.readOnly = true;
  const image = input("d-image", "Image", {value: cp.image || ""});
  const cmd = input("d-command", "Command", {value: cp.command ? JSON.stringify(cp.command) : ""});
  const vcpus = input("d-vcpus", "vCPUs", {type: "number", min: "0.25", step: "0.25",
                                            value: latest ? resource(latest, "VCPU") ?? "" : "1"});
  const mem = input("d-memory", "Memory (MiB)", {type: "number", min: "4",
                                                  value: latest ? resource(latest, "MEMORY") ?? "" : "256"});
  const attempts = input("d-attempts", "Attempts", {type: "number", min: "1", max: "10",
                                                     value: ((latest || {}).retryStrategy || {}).attempts || ""});
  const timeout = input("d-timeout", "Timeout (seconds)", {type: "number", min: "60",
                                                           value: ((latest || {}).timeout || {}).attemptDurationSeconds || ""});
  const build = () => {
    const r = {};
    for (const k of registrable) if (latest && latest[k] !== undefined) r[k] = latest[k];
    r.jobDefinitionName = name.input.value.trim();
    r.type = r.type || "container";
    const c = Object.assign({}, r.containerProperties || {});
    delete c.vcpus; delete c.memory;
    c.image = image.input.value.trim();
    const command_ = command(cmd.input.value);
    if (command_) c.command = command_; else delete c.command;
    const others = (c.resourceRequirements || []).filter(x => !["VCPU", "MEMORY"].includes(x.type));
    c.resourceRequirements = others.concat(
      [["VCPU", vcpus], ["MEMORY", mem]].filter(([, f]) => f.input.value.trim())
        .map(([type, f]) => ({type, value: f.input.value.trim()})));
    r.containerProperties = c;
    if (num(attempts.input) !== undefined) r.retryStrategy = {attempts: num(attempts.input)};
    else delete r.retryStrategy;
    if (num(timeout.input) !== undefined) r.timeout = {attemptDurationSeconds: num(timeout.input)};
    else delete r.timeout;
    return r;
  };
  return requestForm("register", el("div", {class: "grid"},
    [name, image, cmd, vcpus, mem, attempts, timeout].map(f => el("div", {}, f.node, f.input))),
    build, "RegisterJobDefinition",
    (r) => { location.hash = "#/definition/" + encodeURIComponent(r.jobDefinitionName); });
}

async function definitionsPage(g) {
  const defs = await definitions("ACTIVE");
  if (g !== gen) return;
  const by = new Map();
  for (const d of defs) {
    const x = by.get(d.jobDefinitionName);
    by.set(d.jobDefinitionName, {latest: !x || d.revision > x.latest.revision ? d : x.latest,
                                 n: (x ? x.n : 0) + 1});
  }
  const names = [...by.keys()].sort();
  view(el("h1", {}, "Job definitions"),
       el("div", {class: "table-wrap"}, el("table", {id: "definitions"},
         el("thead", {}, el("tr", {}, ["Name", "Latest revision", "Active revisions", "Type", "Image",
                                      "vCPUs", "Memory"].map(h => el("th", {}, h)))),
         el("tbody", {}, names.map(n => {
           const {latest: d, n: count} = by.get(n);
           return el("tr", {}, el("td", {}, el("a", {href: "#/definition/" + encodeURIComponent(n)}, n)),
                     el("td", {class: "num"}, d.revision), el("td", {class: "num"}, count), el("td", {}, d.type),
                     el("td", {}, (d.containerProperties || {}).image || "-"),
                     el("td", {class: "num"}, resource(d, "VCPU") ?? "-"),
                     el("td", {class: "num"}, resource(d, "MEMORY") ?? "-"));
         })))),
       names.length ? null : el("p", {class: "muted"}, "No active job definitions."),
       el("h2", {}, "Register a job definition"), registerForm(null));
}

async function definitionPage(name, g) {
  const r = await api("DescribeJobDefinitions", {jobDefinitionName: name, maxResults: 100});
  if (g !== gen) return;
  const revs = r.jobDefinitions.sort((a, b) => b.revision - a.revision);
  const active = revs.filter(d => d.status === "ACTIVE");
  view(el("h1", {}, "Job definition ", name),
       el("div", {class: "table-wrap"}, el("table", {id: "revisions"},
         el("thead", {}, el("tr", {}, ["Revision", "Status", "Image", "Command", "vCPUs", "Memory", ""]
                                      .map(h => el("th", {}, h)))),
         el("tbody", {}, revs.map(d => el("tr", {},
           el("td", {class: "num"}, d.revision), el("td", {}, d.status),
           el("td", {}, (d.containerProperties || {}).image || "-"),
           el("td", {}, ((d.containerProperties || {}).command || []).join(" ") || "-"),
           el("td", {class: "num"}, resource(d, "VCPU") ?? "-"),
           el("td", {class: "num"}, resource(d, "MEMORY") ?? "-"),
           el("td", {}, d.status !== "ACTIVE" ? null : [
             el("a", {href: "#/submit?definition=" + encodeURIComponent(name + ":" + d.revision)}, "Submit"), " ",
             el("button", {type: "button", class: "secondary", id: "deregister-" + d.revision,
                           onclick: () => api("DeregisterJobDefinition", {jobDefinition: d.jobDefinitionArn})
                             .then(() => definitionPage(name, g)).catch(flash)}, "Deregister")])))))),
       el("h2", {}, "Register a new revision"),
       active.length || revs.length ? registerForm(active[0] || revs[0]) : null);
}

/* ---- queues and compute environments ----------------------------------------------- */

function toggle(id, state, op, body, again) {
  const on = state === "ENABLED";
  return el("button", {type: "button", class: "secondary", id,
                       onclick: () => api(op, Object.assign(body, {state: on ? "DISABLED" : "ENABLED"}))
                         .then(again).catch(flash)}, on ? "Disable" : "Enable");
}

async function queuesPage(g) {
  const [qs, ces] = await Promise.all([api("DescribeJobQueues", {}), api("DescribeComputeEnvironments", {})]);
  if (g !== gen) return;
  const again = () => queuesPage(gen);
  const name = input("q-name", "Name", {required: ""});
  const prio = input("q-priority", "Priority", {type: "number", min: "0", max: "1000", value: "1"});
  const order = input("q-ces", "Compute environments, in order",
                      {value: (ces.computeEnvironments[0] || {}).computeEnvironmentName || ""});
  const state = el("select", {id: "q-state"}, options(["ENABLED", "DISABLED"]));
  const build = () => ({jobQueueName: name.input.value.trim(), priority: num(prio.input), state: state.value,
                        computeEnvironmentOrder: order.input.value.split(",").map(s => s.trim()).filter(Boolean)
                          .map((c, i) => ({order: i + 1, computeEnvironment: c}))});
  view(el("h1", {}, "Job queues"),
       el("div", {class: "table-wrap"}, el("table", {id: "queue-list"},
         el("thead", {}, el("tr", {}, ["Name", "State", "Status", "Priority", "Compute environments", "Scheduling", ""]
                                      .map(h => el("th", {}, h)))),
         el("tbody", {}, qs.jobQueues.map(q => {
           const p = el("input", {type: "number", min: "0", max: "1000", value: q.priority,
                                  id: "priority-" + q.jobQueueName, "aria-label": "Priority of " + q.jobQueueName,
                                  class: "narrow"});
           return el("tr", {}, el("th", {scope: "row"}, q.jobQueueName), el("td", {}, q.state),
             el("td", {}, q.status), el("td", {}, p),
             el("td", {}, (q.computeEnvironmentOrder || []).sort((a, b) => a.order - b.order)
                           .map(o => o.computeEnvironment.split("/").pop()).join(", ")),
             el("td", {}, q.schedulingPolicyArn ? "fair share" : "FIFO"),
             el("td", {class: "actions"},
                el("button", {type: "button", class: "secondary", id: "save-" + q.jobQueueName,
                              onclick: () => api("UpdateJobQueue", {jobQueue: q.jobQueueName, priority: Number(p.value)})
                                .then(again).catch(flash)}, "Save priority"),
                toggle("toggle-" + q.jobQueueName, q.state, "UpdateJobQueue", {jobQueue: q.jobQueueName}, again)));
         })))),
       el("h2", {}, "Create a job queue"),
       requestForm("create-queue", el("div", {class: "grid"}, el("div", {}, name.node, name.input),
                                      el("div", {}, prio.node, prio.input),
                                      el("div", {}, el("label", {for: "q-state"}, "State"), state),
                                      el("div", {class: "wide"}, order.node, order.input)),
                   build, "CreateJobQueue", again));
}

async function cesPage(g) {
  const ces = await api("DescribeComputeEnvironments", {});
  if (g !== gen) return;
  const again = () => cesPage(gen);
  const name = input("c-name", "Name", {required: ""});
  const vcpus = input("c-vcpus", "vCPUs", {type: "number", min: "1", value: "4"});
  const state = el("select", {id: "c-state"}, options(["ENABLED", "DISABLED"]));
  const build = () => ({computeEnvironmentName: name.input.value.trim(), type: "UNMANAGED", state: state.value,
                        unmanagedvCpus: num(vcpus.input)});
  const cap = (c) => c.type === "UNMANAGED" ? c.unmanagedvCpus : (c.computeResources || {}).maxvCpus;
  view(el("h1", {}, "Compute environments"),
       el("div", {class: "table-wrap"}, el("table", {id: "ce-list"},
         el("thead", {}, el("tr", {}, ["Name", "Type", "State", "Status", "vCPUs", "Desired", ""]
                                      .map(h => el("th", {}, h)))),
         el("tbody", {}, ces.computeEnvironments.map(c => {
           const v = el("input", {type: "number", min: "1", value: cap(c) ?? "", class: "narrow",
                                  id: "vcpus-" + c.computeEnvironmentName,
                                  "aria-label": "vCPUs of " + c.computeEnvironmentName});
           const upd = c.type === "UNMANAGED" ? () => ({unmanagedvCpus: Number(v.value)})
                                              : () => ({computeResources: {maxvCpus: Number(v.value)}});
           return el("tr", {}, el("th", {scope: "row"}, c.computeEnvironmentName), el("td", {}, c.type),
             el("td", {}, c.state), el("td", {}, c.status, c.statusReason ? el("div", {class: "muted"}, c.statusReason) : null),
             el("td", {}, v), el("td", {class: "num"}, (c.computeResources || {}).desiredvCpus ?? "-"),
             el("td", {class: "actions"},
                el("button", {type: "button", class: "secondary", id: "save-" + c.computeEnvironmentName,
                              onclick: () => api("UpdateComputeEnvironment",
                                                 Object.assign({computeEnvironment: c.computeEnvironmentName}, upd()))
                                .then(again).catch(flash)}, "Save vCPUs"),
                toggle("toggle-" + c.computeEnvironmentName, c.state, "UpdateComputeEnvironment",
                       {computeEnvironment: c.computeEnvironmentName}, again)));
         })))),
       el("h2", {}, "Create a compute environment"),
       el("p", {class: "muted"}, "UNMANAGED: its capacity is the workers started for it. Edit the request JSON for other fields."),
       requestForm("create-ce", el("div", {class: "grid"}, el("div", {}, name.node, name.input),
                                   el("div", {}, vcpus.node, vcpus.input),
                                   el("div", {}, el("label", {for: "c-state"}, "State"), state)),
                   build, "CreateComputeEnvironment", again));
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
  else if (path === "/submit") p = submitPage(params, g);
  else if (path === "/definitions") p = definitionsPage(g);
  else if (path.startsWith("/definition/")) p = definitionPage(decodeURIComponent(path.slice(12)), g);
  else if (path === "/queues") p = queuesPage(g);
  else if (path === "/compute-environments") p = cesPage(g);
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
