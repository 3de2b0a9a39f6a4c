// ganforge dashboard: polls the JSON endpoints and redraws; no framework, no CDN.
"use strict";
const POLL_MS = 2000;
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
const fmt = (v) => typeof v !== "number" ? (v ?? "–") : Math.abs(v) >= 1000 ? String(Math.round(v)) : String(Number(v.toPrecision(4)));
const ago = (t) => { if (!t) return "–"; const s = Date.now() / 1000 - t; return s < 60 ? `${Math.round(s)} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : new Date(t * 1000).toLocaleString(); };
const runPath = (name) => name.split("/").map(encodeURIComponent).join("/");

async function getJSON(url) {
  const r = await fetch(url, {cache: "no-store"});
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return r.json();
}

async function postJSON(url, body) {
  const r = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
  const text = await r.text();
  if (!r.ok) throw new Error(text.trim().split("\n")[0]);  // the CLI's one line
  return JSON.parse(text);
}

const jobBadge = (j) => j ? ` <span class="status job-${esc(j.state)}">${esc(j.state)}</span>` : "";

function poll(fn) {
  const live = document.getElementById("live");
  const tick = async () => {
    try { await fn(); live.textContent = "live"; } catch (e) { live.textContent = `paused (${e.message})`; }
    setTimeout(tick, POLL_MS);
  };
  tick();
}

// ---- the runs page -------------------------------------------------------------------
async function runsPage() {
  const doc = await getJSON("/api/runs");
  document.getElementById("root").textContent = doc.root;
  document.getElementById("empty").hidden = doc.runs.length > 0;
  const picked = new Set([...document.querySelectorAll("#runs input:checked")].map((c) => c.value));
  document.querySelector("#runs tbody").innerHTML = doc.runs.map((r) => `<tr>
    <td><input type="checkbox" value="${esc(r.name)}" ${picked.has(r.name) ? "checked" : ""}>
    <a href="/run/${runPath(r.name)}">${esc(r.name)}</a></td><td>${esc(r.family)}</td><td>${esc(r.data)}</td>
    <td class="num">${r.step}/${esc(r.steps)}</td><td><span class="status ${esc(r.status)}">${esc(r.status)}</span>${jobBadge(r.job)}</td>
    <td class="num">${r.best ? `${esc(r.best.metric)} ${fmt(r.best.value)}` : "–"}</td><td>${esc(ago(r.updated))}</td></tr>`).join("");
  const jobs = document.getElementById("jobs");
  if (jobs) {  // runs started here that have no run folder yet, or failed
    const shown = new Set(doc.runs.map((r) => r.name));
    jobs.innerHTML = doc.jobs.filter((j) => !shown.has(j.name) || j.error).map((j) =>
      `<li>${esc(j.name)}${jobBadge(j)} ${j.error ? `<span class="finding-problem">${esc(j.error)}</span>` : ""}</li>`).join("");
  }
}

function setupTrainForm() {
  const form = document.getElementById("train-form");
  if (!form) return;  // the server was not started with --allow-train
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const msg = document.getElementById("train-msg"), button = form.querySelector("button");
    const body = Object.fromEntries(new FormData(form));
    button.disabled = true;
    msg.className = "dim"; msg.textContent = `starting ${body.name} (checking the options) ...`;
    try {
      const j = await postJSON("/api/train", body);
      msg.textContent = `started ${j.name}: ${j.state}`;
      await runsPage();
    } catch (e) { msg.className = "finding-problem"; msg.textContent = e.message; }
    button.disabled = false;
  });
}

// ---- one run ---------------------------------------------------------------------------
const CURVES = [["losses", ["d_loss", "g_loss"]], ["D(real) / D(fake)", ["D_real", "D_fake"]],
                ["gradient norms", ["gnorm_D", "gnorm_G"]], ["diversity", ["div"]]];
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];

function svgChart(title, series, findings, W = 360, H = 190) {
  const pts = series.flatMap(([, p]) => p);
  if (!pts.length) return "";
  const pad = {l: 44, r: 8, t: 18, b: 20};
  let [x0, x1] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))];
  if (x1 === x0) x1 = x0 + 1; if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
  const X = (x) => pad.l + (x - x0) / (x1 - x0) * (W - pad.l - pad.r);
  const Y = (y) => H - pad.b - (y - y0) / (y1 - y0) * (H - pad.t - pad.b);
  const bands = findings.map((f) => {
    const a = X(Math.max(x0, f.onset ?? f.step)), b = X(Math.min(x1, f.step));
    return `<rect x="${a}" y="${pad.t}" width="${Math.max(2, b - a)}" height="${H - pad.t - pad.b}" fill="${f.severity === "problem" ? "#f4b6b0" : "#f8e3a3"}" opacity=".6"><title>${esc(f.finding)} (step ${f.step})</title></rect>`;
  }).join("");
  const lines = series.map(([k, p], i) => `<polyline fill="none" stroke="${COLORS[i]}" stroke-width="1.3" points="${p.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(" ")}"/>`).join("");
  const legend = series.map(([k], i) => `<tspan fill="${COLORS[i]}">${esc(k)}</tspan>`).join(" ");
  return `<svg class="curve" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">
    ${bands}${lines}<text x="${pad.l}" y="12">${esc(title)}: ${legend}</text>
    <text x="2" y="${pad.t + 8}">${fmt(y1)}</text><text x="2" y="${H - pad.b}">${fmt(y0)}</text>
    <text x="${pad.l}" y="${H - 4}">${fmt(x0)}</text><text x="${W - pad.r}" y="${H - 4}" text-anchor="end">step ${fmt(x1)}</text></svg>`;
}

const state = {samples: [], follow: true, timer: null, name: null};

function showSample(i) {
  const s = state.samples[i];
  if (!s) return;
  document.getElementById("slider").value = i;
  document.getElementById("sample-step").textContent = `step ${s.step} (${i + 1}/${state.samples.length})`;
  const img = document.getElementById("grid");
  const src = `/api/run/${runPath(state.name)}/samples/${encodeURIComponent(s.file)}`;
  if (img.getAttribute("src") !== src) img.src = src;
}

async function runPage() {
  const r = await getJSON(`/api/run/${runPath(state.name)}`);
  document.getElementById("head").innerHTML = `${esc(r.family)} on ${esc(r.data)} · step ${r.step}/${esc(r.steps)} ·
    <span class="status ${esc(r.status)}">${esc(r.status)}</span>${jobBadge(r.job)} · updated ${esc(ago(r.updated))}`;
  if (document.getElementById("train-run")) {
    const live = r.job && (r.job.state === "training" || r.job.state === "stopping");
    document.getElementById("stop").hidden = !live;
    document.getElementById("resume-box").hidden = live;
    document.getElementById("job-state").textContent = r.job?.error ?? "";
  }
  document.getElementById("curves").innerHTML = CURVES.map(([title, keys]) =>
    svgChart(title, keys.filter((k) => r.curves[k]).map((k) => [k, r.curves[k]]), r.findings)).join("");
  document.getElementById("findings").innerHTML = r.findings.length ? r.findings.map((f) => `<li class="finding-${esc(f.severity)}">
    <b>[${esc(f.severity)}] step ${f.step}: ${esc(f.finding)}</b> <span class="dim">(from step ${esc(f.onset)})</span><br>
    evidence: ${esc(Object.entries(f.evidence || {}).map(([k, v]) => `${k}=${v}`).join(", "))}<br>advice: ${esc(f.advice)}</li>`).join("")
    : `<li class="dim">none: the health monitor found nothing</li>`;
  const slider = document.getElementById("slider");
  const grew = r.samples.length !== state.samples.length;
  state.samples = r.samples;
  slider.max = Math.max(0, r.samples.length - 1);
  if (grew && state.follow) showSample(r.samples.length - 1);
  document.getElementById("no-metrics").hidden = r.metrics.length > 0;
  document.querySelector("#metrics tbody").innerHTML = r.metrics.map((m) => `<tr><td>${esc(m.label || m.metric)}</td>
    <td class="num">${fmt(m.value)}</td><td class="num">${fmt(m.floor)}</td><td>${esc(m.better)}</td></tr>`).join("");
  document.querySelector("#evals tbody").innerHTML = r.evals.map((e) => `<tr><td class="num">${e.step}</td>
    <td class="num">${fmt(e.fid)}</td><td class="num">${fmt(e.fid_floor)}</td><td class="num">${fmt(e.precision)}</td>
    <td class="num">${fmt(e.recall)}</td><td class="num">${fmt(e.coverage)}</td></tr>`).join("");
}

function setupSlider() {
  const slider = document.getElementById("slider"), play = document.getElementById("play");
  slider.addEventListener("input", () => { state.follow = +slider.value === state.samples.length - 1; showSample(+slider.value); });
  play.addEventListener("click", () => {
    if (state.timer) { clearInterval(state.timer); state.timer = null; play.textContent = "play"; return; }
    play.textContent = "pause";
    let i = +slider.value >= state.samples.length - 1 ? 0 : +slider.value;
    state.timer = setInterval(() => {
      showSample(i);
      if (++i >= state.samples.length) { clearInterval(state.timer); state.timer = null; play.textContent = "play"; state.follow = true; }
    }, 300);
  });
}

function setupRunButtons() {
  if (!document.getElementById("train-run")) return;
  const msg = document.getElementById("train-msg"), url = `/api/run/${runPath(state.name)}`;
  const act = async (what, body) => {
    msg.className = "dim"; msg.textContent = `${what} ...`;
    try { const j = await postJSON(`${url}/${what}`, body); msg.textContent = `${j.state}`; await runPage(); }
    catch (e) { msg.className = "finding-problem"; msg.textContent = e.message; }
  };
  document.getElementById("stop").addEventListener("click", () => act("stop", {}));
  document.getElementById("resume").addEventListener("click", () => act("resume", {steps: document.getElementById("resume-steps").value}));
}

// ---- the trained model: seed / truncation / label sliders ---------------------------------
async function setupModel() {
  const info = await getJSON(`/api/run/${runPath(state.name)}/model`).catch(() => ({available: false}));
  if (!info.available) return;
  const $ = (id) => document.getElementById(id);
  $("model").hidden = false;
  $("m-psi-box").hidden = !info.truncation;
  $("m-label-box").hidden = !info.num_classes;
  for (let i = 0; i < info.num_classes; i++) $("m-label").add(new Option(info.class_names[i] ?? String(i), String(i)));
  const draw = async () => {
    const q = new URLSearchParams({seed: $("m-seed").value, n: "64"});
    if (info.truncation) q.set("truncation", $("m-psi").value);
    if ($("m-label").value) q.set("label", $("m-label").value);
    $("m-seed-v").textContent = $("m-seed").value; $("m-psi-v").textContent = $("m-psi").value;
    const url = `/api/run/${runPath(state.name)}/model.png?${q}`;
    const r = await fetch(url);
    if (!r.ok) { $("m-error").textContent = await r.text(); return; }
    $("m-error").textContent = "";
    $("m-grid").src = URL.createObjectURL(await r.blob());
    $("m-download").href = `${url}&download=1`;
  };
  for (const id of ["m-seed", "m-psi", "m-label"]) $(id).addEventListener("change", draw);
  draw();
}

// ---- compare runs at the same step ---------------------------------------------------------
const cmp = {runs: [], steps: [], picked: null};
const atOrBefore = (rows, step, get) => rows.filter((r) => get(r) <= step).pop();

function drawCompare() {
  const slider = document.getElementById("c-slider");
  const step = cmp.steps[+slider.value] ?? 0;
  document.getElementById("c-step").textContent = `step ${step}`;
  document.querySelector("#compare tbody").innerHTML = cmp.runs.map((r) => {
    const s = atOrBefore(r.samples, step, (x) => x.step);
    const v = (k) => { const p = atOrBefore(r.curves[k] || [], step, (x) => x[0]); return p ? fmt(p[1]) : "–"; };
    const e = atOrBefore(r.evals, step, (x) => x.step);
    return `<tr><td><a href="/run/${runPath(r.name)}">${esc(r.name)}</a><br><span class="dim">${esc(r.family)} on ${esc(r.data)}</span></td>
      <td>${s ? `<img class="cmp-grid" alt="grid of ${esc(r.name)} at step ${s.step}" src="/api/run/${runPath(r.name)}/samples/${encodeURIComponent(s.file)}"><br><span class="dim">step ${s.step}</span>` : "–"}</td>
      <td class="num">${v("d_loss")}</td><td class="num">${v("D_real")}</td><td class="num">${v("D_fake")}</td>
      <td class="num">${e ? fmt(e.fid) : "–"}</td></tr>`;
  }).join("");
}

async function comparePage() {
  const names = new URLSearchParams(location.search).getAll("runs");
  cmp.runs = await Promise.all(names.map((n) => getJSON(`/api/run/${runPath(n)}`)));
  cmp.steps = [...new Set(cmp.runs.flatMap((r) => r.samples.map((s) => s.step)))].sort((a, b) => a - b);
  const slider = document.getElementById("c-slider");
  const follow = +slider.value >= +slider.max;
  slider.max = Math.max(0, cmp.steps.length - 1);
  if (follow) slider.value = slider.max;
  drawCompare();
  document.getElementById("curves").innerHTML = ["d_loss", "D_real", "D_fake", "gnorm_D"].map((k) =>
    svgChart(k, cmp.runs.filter((r) => r.curves[k]).map((r) => [r.name, r.curves[k]]), [])).join("");
}

if (document.body.dataset.page === "compare") {
  document.getElementById("c-slider").addEventListener("input", drawCompare);
  poll(comparePage);
} else if (document.body.dataset.page === "run") {
  state.name = decodeURIComponent(location.pathname.replace(/^\/run\//, ""));
  document.getElementById("name").textContent = state.name;
  setupSlider();
  setupRunButtons();
  setupModel();
  poll(runPage);
} else {
  document.getElementById("compare-btn").addEventListener("click", () => {
    const q = new URLSearchParams();
    document.querySelectorAll("#runs input:checked").forEach((c) => q.append("runs", c.value));
    if ([...q].length) location.href = `/compare?${q}`;
  });
  setupTrainForm();
  poll(runsPage);
}
