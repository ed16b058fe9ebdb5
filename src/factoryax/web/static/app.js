/* FactoryAX dashboard: hash routes, one render function per page, live updates over SSE. */
"use strict";
(function () {
  const $ = function (sel, root) { return (root || document).querySelector(sel); };
  const esc = function (s) { return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]; }); };
  const pct = function (v) { return v === null || v === undefined ? "—" : (v * 100).toFixed(1) + "%"; };
  const num = function (v, d) { return v === null || v === undefined ? "—" : Number(v).toFixed(d === undefined ? 3 : d); };
  let lang = localStorage.getItem("fax-lang") || "en";
  let plant = null, me = null, source = null, live = null;
  const t = function (k) { return (window.I18N[lang] || {})[k] || window.I18N.en[k] || k; };
  const st = function (s) { return s ? t("st_" + s) : "—"; };
  const name = function (o) { return lang === "ko" && o.name_ko ? o.name_ko : (o.name || o.id); };

  /* The pages: [route, render]. Adding a page (model registry, agent chat) is one line here. */
  const PAGES = [
    ["overview", renderOverview],
    ["asset", renderAsset],
    ["spc", renderSpc],
    ["alarms", renderAlarms],
    ["downtime", renderDowntime],
    ["ledger", renderLedger],
    ["health", renderHealth],
    ["models", function (el, args) { return window.FaxPages.models(el, args, H); }],
    ["chat", function (el, args) { return window.FaxPages.chat(el, args, H); }],
  ];
  const PARTNER_PAGES = ["ledger"];

  async function api(path, options) {
    const res = await fetch(path, Object.assign({ credentials: "same-origin" }, options || {}));
    const type = res.headers.get("content-type") || "";
    const body = type.indexOf("json") >= 0 ? await res.json() : await res.text();
    if (!res.ok) { const e = new Error((body && body.error) || res.statusText); e.status = res.status; throw e; }
    return body;
  }
  const post = function (path, data) { return api(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(data || {}) }); };
  /* What page modules in other files (models.js, chat.js: window.FaxPages) get to work with. */
  const H = { $: $, esc: esc, pct: pct, num: num, api: api, post: post, t: t, me: function () { return me; }, lang: function () { return lang; }, rerender: function () { route(); } };

  function translate() {
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-i18n]").forEach(function (el) { el.textContent = t(el.dataset.i18n); });
    $("#lang-toggle").textContent = lang === "ko" ? "English" : "한국어";
    const pages = me && me.role === "partner" ? PAGES.filter(function (p) { return PARTNER_PAGES.indexOf(p[0]) >= 0; }) : PAGES;
    $("#nav").innerHTML = pages.map(function (p) { return '<a href="#/' + p[0] + '" data-page="' + p[0] + '">' + esc(t(p[0])) + "</a>"; }).join("");
  }

  function route() {
    const parts = (location.hash || "#/overview").slice(2).split("/");
    const partner = me && me.role === "partner";
    const allowed = PAGES.filter(function (p) { return !partner || PARTNER_PAGES.indexOf(p[0]) >= 0; });
    const page = allowed.find(function (p) { return p[0] === parts[0]; }) || allowed[0];
    document.querySelectorAll("#nav a").forEach(function (a) { a.classList.toggle("active", a.dataset.page === page[0]); });
    const el = $("#page"); el.dataset.page = page[0]; delete el.dataset.rendered;
    // Each render paints into its own box; a newer route swaps in a new box, so a slow
    // render of the page the user has left paints into a detached box, never over this one.
    const box = document.createElement("div");
    box.innerHTML = '<p class="muted">' + t("loading") + "</p>";
    el.replaceChildren(box);
    const current = function () { return box.parentNode === el; };
    page[1](box, parts.slice(1).map(decodeURIComponent)).then(function () { if (current()) el.dataset.rendered = "1"; }).catch(function (e) { if (current()) box.innerHTML = '<p class="error">' + esc(e.message) + "</p>"; });
  }

  function startLive() {
    if (source || (me && me.role === "partner")) return;
    source = new EventSource("/api/live");
    source.addEventListener("snapshot", function (ev) {
      live = JSON.parse(ev.data);
      $("#live-dot").classList.add("on");
      $("#live-dot").dataset.at = String(live.at);
      applyLive();
    });
    source.onerror = function () { $("#live-dot").classList.remove("on"); };
  }

  function applyLive() {
    if (!live) return;
    document.querySelectorAll("[data-live]").forEach(function (el) {
      const k = el.dataset.live.split("|"), v = (live.values[k[0]] || {})[k[1]];
      if (v && v[0] !== null) el.textContent = Number(v[0]).toFixed(2);
    });
    document.querySelectorAll("[data-state]").forEach(function (el) {
      const s = (live.states || {})[el.dataset.state];
      if (s) { el.textContent = st(s.state); el.className = "state " + s.state; }
    });
    const at = $("#live-at"); if (at) at.textContent = new Date(live.at).toLocaleString();
    const n = $("#alarm-count"); if (n) n.textContent = String(live.alarms_active);
  }

  function assets() { const out = []; plant.lines.forEach(function (l) { l.assets.forEach(function (a) { out.push(a); }); }); return out; }

  async function renderOverview(el) {
    const o = await api("/api/overview");
    const lines = plant.lines.map(function (l) {
      const lk = o.kpi.lines[l.id] || {};
      const tiles = l.assets.map(function (a) {
        const k = o.kpi.assets[a.id] || {}, s = o.states[a.id] || {};
        const vals = a.signals.slice(0, 3).map(function (sig) {
          return esc(sig.id) + ' <b data-live="' + a.id + "|" + sig.id + '">—</b> ' + esc(sig.unit);
        }).join("<br>");
        return '<div class="card asset-tile"><h3><a href="#/asset/' + a.id + '">' + esc(name(a)) + '</a> <span class="state ' + esc(s.state) + '" data-state="' + a.id + '">' + esc(st(s.state)) + "</span></h3>" +
          Charts.gauge(k.oee, t("oee")) + '<div class="vals">' + t("availability") + " " + pct(k.availability) + " · " + t("performance") + " " + pct(k.performance) + " · " + t("quality") + " " + pct(k.quality) + "</div>" +
          '<div class="vals">' + vals + "</div></div>";
      }).join("");
      return "<h2>" + esc(name(l)) + " — " + t("oee") + " " + pct(lk.oee) + '</h2><div class="grid">' + tiles + "</div>";
    }).join("");
    const alarms = o.alarms.length ? "<table><tr><th>" + t("rule") + "</th><th>" + t("state") + "</th><th>" + t("message") + "</th></tr>" + o.alarms.slice(0, 10).map(function (a) {
      return '<tr><td class="sev' + a.severity + '">' + esc(a.rule) + "</td><td>" + esc(st(a.state)) + "</td><td>" + esc(a.why || a.message) + "</td></tr>";
    }).join("") + "</table>" : "<p>" + t("no_alarms") + "</p>";
    el.innerHTML = '<p class="muted">' + t("today") + ": " + esc(o.day) + " · " + t("live") + ': <span id="live-at">' + new Date(o.at).toLocaleString() + "</span></p>" + lines +
      "<h2>" + t("active_alarms") + ' (<span id="alarm-count">' + o.alarms.length + "</span>)</h2>" + alarms;
    applyLive();
  }

  async function renderAsset(el, args) {
    const id = args[0] || assets()[0].id;
    const d = await api("/api/assets/" + encodeURIComponent(id) + "?hours=168&points=1200");
    const pick = '<select id="asset-pick">' + assets().map(function (a) { return "<option value=\"" + a.id + '"' + (a.id === id ? " selected" : "") + ">" + esc(name(a)) + "</option>"; }).join("") + "</select>";
    const contrib = d.anomalies.length ? d.anomalies.slice(0, 5).map(function (e) {
      const rows = Object.keys(e.contributions).sort(function (a, b) { return e.contributions[b] - e.contributions[a]; }).map(function (k) {
        return "<tr><td>" + esc(k) + '</td><td style="width:60%"><div class="bar" style="width:' + (100 * e.contributions[k]).toFixed(0) + '%"></div></td><td>' + pct(e.contributions[k]) + "</td></tr>";
      }).join("");
      return '<div class="card"><b>' + Charts.fmtTime(e.ts) + "</b> " + esc(e.message || "") + "<table>" + rows + "</table></div>";
    }).join("") : '<p class="muted">' + t("none_yet") + "</p>";
    el.innerHTML = '<div class="row"><h2>' + esc(name(d)) + "</h2>" + pick + "</div>" +
      '<div class="row"><div class="card"><b>' + t("rul") + "</b>: " + (d.rul ? num(d.rul.hours, 1) + " " + t("hours") : t("none_yet")) + "</div></div>" +
      "<h3>" + t("anomaly") + '</h3><canvas class="chart" id="chart-anomaly"></canvas>' +
      "<h3>" + t("contributions") + '</h3><div class="grid">' + contrib + "</div>" +
      "<h3>" + t("signals") + "</h3>" + d.signals.map(function (s) {
        return '<div class="card"><b>' + esc(s.id) + "</b> (" + esc(s.unit) + ') <span class="vals"><b data-live="' + id + "|" + s.id + '">—</b></span><canvas class="chart signal-chart" id="chart-' + s.id + '"></canvas></div>';
      }).join("");
    $("#asset-pick").onchange = function (e) { location.hash = "#/asset/" + e.target.value; };
    Charts.line($("#chart-anomaly"), [{ points: d.anomaly.points, color: "#8e24aa" }], { hlines: [{ y: 1.0, color: "#d93025", label: "1.0" }], title: d.anomaly.raw_points + " → " + d.anomaly.points.length + " " + t("points") });
    d.signals.forEach(function (s) {
      const r = d.series[s.id], c = $("#chart-" + s.id);
      if (c && r) Charts.line(c, [{ points: r.points }], { hlines: [{ y: s.lsl, color: "#e37400", label: "LSL" }, { y: s.usl, color: "#e37400", label: "USL" }], title: r.raw_points + " → " + r.points.length + " " + t("points") });
    });
    applyLive();
  }

  async function renderSpc(el, args) {
    const chars = await api("/api/spc/characteristics");
    if (!chars.length) { el.innerHTML = "<p>" + t("none_yet") + "</p>"; return; }
    const ch = args[0] || chars[0].characteristic;
    const r = await api("/api/spc?characteristic=" + encodeURIComponent(ch));
    const cap = r.capability || {};
    el.innerHTML = '<div class="row"><label>' + t("characteristic") + ' <select id="spc-pick">' + chars.map(function (c) { return "<option" + (c.characteristic === ch ? " selected" : "") + ">" + esc(c.characteristic) + "</option>"; }).join("") + "</select></label> <span class=\"muted\">" + esc(r.kind) + " · n=" + r.n + "</span></div>" +
      '<canvas class="chart" id="spc-chart" style="height:300px"></canvas>' +
      "<h3>" + t("capability") + '</h3><table id="cap"><tr><th>Cp</th><th>Cpk</th><th>Pp</th><th>Ppk</th><th>n</th><th>LSL</th><th>USL</th></tr><tr><td>' + num(cap.cp) + "</td><td>" + num(cap.cpk) + "</td><td>" + num(cap.pp) + "</td><td>" + num(cap.ppk) + "</td><td>" + (cap.n || "—") + "</td><td>" + (cap.lsl === null || cap.lsl === undefined ? "—" : cap.lsl) + "</td><td>" + (cap.usl === null || cap.usl === undefined ? "—" : cap.usl) + "</td></tr></table>" +
      "<h3>" + t("violations") + " (" + r.episodes.length + ')</h3><table id="episodes">' + r.episodes.slice(0, 50).map(function (e) { return "<tr><td>" + Charts.fmtTime(e.ts) + "</td><td>" + esc(e.rule) + "</td><td>" + esc(lang === "ko" ? e.name_ko : e.name) + "</td><td>" + e.points + "</td></tr>"; }).join("") + "</table>";
    $("#spc-pick").onchange = function (e) { location.hash = "#/spc/" + e.target.value; };
    Charts.line($("#spc-chart"), [{ points: r.points }], { hlines: [{ y: r.ucl, color: "#d93025", label: "UCL" }, { y: r.center, color: "#1e8e3e", label: "CL" }, { y: r.lcl, color: "#d93025", label: "LCL" }], marks: r.violations });
  }

  async function renderAlarms(el) {
    const list = await api("/api/alarms");
    el.innerHTML = "<h2>" + t("alarms") + '</h2><table id="alarm-table"><tr><th>' + t("rule") + "</th><th>" + t("state") + "</th><th>" + t("time") + "</th><th>" + t("message") + "</th><th>" + t("actions") + "</th></tr>" +
      list.map(function (a) {
        const comments = a.comments.map(function (c) { return '<div class="muted">' + esc(c.who) + ": " + esc(c.text) + "</div>"; }).join("");
        const canAck = a.state === "unacknowledged" || a.state === "rtn_unacknowledged";
        return '<tr data-rule="' + esc(a.rule) + '"><td class="sev' + a.severity + '">' + esc(a.rule) + '</td><td class="alarm-state" data-value="' + esc(a.state) + '">' + esc(st(a.state)) + (a.shelved_until ? "<br><small>" + t("shelved_until") + " " + new Date(a.shelved_until).toLocaleString() + "</small>" : "") + "</td><td>" + new Date(a.ts).toLocaleString() + "</td><td>" + esc(a.why || a.message) + comments + "</td><td>" +
          (canAck ? '<button class="ack">' + t("ack") + "</button> " : "") +
          '<input class="shelve-min" type="number" min="1" value="30" style="width:5em"> ' + t("minutes") + ' <input class="shelve-why" placeholder="' + t("reason") + '"> <button class="shelve">' + t("shelve") + "</button><br>" +
          '<input class="comment-text" placeholder="' + t("comment") + '"> <button class="comment">' + t("add") + '</button><div class="error"></div></td></tr>';
      }).join("") + "</table>";
    el.querySelectorAll("tr[data-rule]").forEach(function (tr) {
      const rule = encodeURIComponent(tr.dataset.rule), err = $(".error", tr);
      const act = function (p) { p.then(function () { route(); }).catch(function (e) { err.textContent = e.message; }); };
      const ack = $(".ack", tr); if (ack) ack.onclick = function () { act(post("/api/alarms/" + rule + "/ack", {})); };
      $(".shelve", tr).onclick = function () { act(post("/api/alarms/" + rule + "/shelve", { duration_min: Number($(".shelve-min", tr).value), reason: $(".shelve-why", tr).value })); };
      $(".comment", tr).onclick = function () { act(post("/api/alarms/" + rule + "/comment", { text: $(".comment-text", tr).value })); };
    });
  }

  async function renderDowntime(el) {
    const d = await api("/api/downtime?lang=" + lang);
    const max = Math.max.apply(null, d.bars.map(function (b) { return b.hours; }).concat([1e-9]));
    el.innerHTML = "<h2>" + t("pareto") + " — " + esc(d.period) + '</h2><table id="pareto">' + d.bars.map(function (b) {
      return "<tr><td>" + esc(b.label) + '</td><td style="width:50%"><div class="bar" style="width:' + (100 * b.hours / max).toFixed(1) + '%"></div></td><td>' + b.hours.toFixed(2) + " " + t("hours") + "</td><td>" + pct(b.cumulative) + "</td></tr>";
    }).join("") + "</table><h2>" + t("stops") + '</h2><table id="stops"><tr><th>' + t("asset_col") + "</th><th>" + t("start") + "</th><th>" + t("duration") + "</th><th>" + t("reason") + "</th><th>" + t("operator_reason") + "</th><th></th></tr>" +
      d.stops.map(function (s, i) {
        return "<tr><td>" + esc(s.asset) + "</td><td>" + new Date(s.start).toLocaleString() + "</td><td>" + s.minutes.toFixed(1) + "</td><td>" + esc(s.reason_code || "—") + '</td><td class="op-reason">' + esc(s.operator_reason || "") + '</td><td><button class="big pick-stop" data-i="' + i + '">' + t("enter_reason") + "</button></td></tr>";
      }).join("") + '</table><div id="reason-form" class="card" hidden><h3 id="reason-title"></h3><div class="reasons">' +
      plant.reasons.map(function (r) { return '<button type="button" data-code="' + esc(r.code) + '">' + esc(lang === "ko" ? r.name_ko : r.name) + "</button>"; }).join("") +
      '</div><textarea id="reason-note" rows="2" style="width:100%" placeholder="' + t("comment") + '"></textarea><p><button class="big" id="reason-save">' + t("save") + '</button> <span id="reason-msg"></span></p></div>';
    let chosen = null, code = null;
    el.querySelectorAll(".pick-stop").forEach(function (b) {
      b.onclick = function () {
        chosen = d.stops[Number(b.dataset.i)]; $("#reason-form").hidden = false;
        $("#reason-title").textContent = chosen.asset + " · " + new Date(chosen.start).toLocaleString();
        $("#reason-form").scrollIntoView();
      };
    });
    el.querySelectorAll(".reasons button").forEach(function (b) {
      b.onclick = function () { el.querySelectorAll(".reasons button").forEach(function (x) { x.classList.remove("sel"); }); b.classList.add("sel"); code = b.dataset.code; };
    });
    $("#reason-save").onclick = function () {
      post("/api/downtime/reasons", { asset: chosen.asset, start: chosen.start, reason_code: code || "", note: $("#reason-note").value })
        .then(function () { $("#reason-msg").className = "okmsg"; $("#reason-msg").textContent = t("saved"); setTimeout(route, 600); })
        .catch(function (e) { $("#reason-msg").className = "error"; $("#reason-msg").textContent = e.message; });
    };
  }

  async function renderLedger(el) {
    const partner = me.role === "partner";
    const certs = await api("/api/certificates").catch(function (e) { return { error: e.message }; });
    const lots = partner ? [] : await api("/api/certificates/lots").catch(function () { return []; });
    const issue = partner ? "" : "<h2>" + t("issue") + '</h2><div class="row"><select id="lot-pick">' + lots.map(function (l) { return "<option>" + esc(l.lot) + "</option>"; }).join("") + '</select><button class="big" id="issue">' + t("issue") + '</button><span id="issue-msg"></span></div>';
    const list = certs.error ? '<p class="error">' + esc(certs.error) + "</p>" : '<table id="certs"><tr><th>#</th><th>' + t("lots") + "</th><th>" + t("verdict") + "</th><th>" + t("time") + "</th><th>" + t("download") + "</th></tr>" + certs.map(function (c) {
      return "<tr><td>" + c.index + "</td><td>" + esc(c.lot) + "</td><td>" + esc(c.verdict) + "</td><td>" + esc(c.issued_at) + '</td><td><a class="bundle-link" href="/api/bundles/' + c.index + '" download>' + t("bundle") + '</a> · <a href="/api/certificates/' + c.index + '/pdf">PDF</a></td></tr>';
    }).join("") + "</table>";
    el.innerHTML = issue + "<h2>" + t("certificates") + "</h2>" + list + "<h2>" + t("verify") + '</h2><div class="row"><input type="file" id="bundle-file" accept=".json,application/json"><button class="big" id="verify">' + t("verify") + '</button></div><div id="verify-result"></div>';
    const btn = $("#issue");
    if (btn) btn.onclick = function () {
      $("#issue-msg").textContent = t("loading");
      post("/api/certificates", { lot: $("#lot-pick").value }).then(function (r) { $("#issue-msg").className = "okmsg"; $("#issue-msg").textContent = "#" + r.index + " " + r.verdict; setTimeout(route, 500); })
        .catch(function (e) { $("#issue-msg").className = "error"; $("#issue-msg").textContent = e.message; });
    };
    $("#verify").onclick = async function () {
      const f = $("#bundle-file").files[0], out = $("#verify-result");
      if (!f) return;
      try {
        const r = await api("/api/verify", { method: "POST", headers: { "content-type": "application/json" }, body: await f.text() });
        out.innerHTML = '<p class="okmsg" id="verify-ok">' + t("verified") + ": " + esc(r.record_type) + " #" + r.index + " · " + esc(r.signed_by.join(", ")) + "</p><pre>" + esc(JSON.stringify(r.fields, null, 1)) + "</pre>";
      } catch (e) { out.innerHTML = '<p class="error" id="verify-fail">' + t("verify_failed") + ": " + esc(e.message) + "</p>"; }
    };
  }

  async function renderHealth(el) {
    const h = await api("/api/health");
    const rt = h.runtime ? "<table><tr><th>source</th><th>kind</th><th>state</th><th>rate/s</th><th>lag s</th><th>accepted</th><th>quarantined</th><th>buffered</th></tr>" + (h.runtime.sources || []).map(function (s) {
      return "<tr><td>" + esc(s.name) + "</td><td>" + esc(s.kind) + "</td><td>" + esc(s.state) + "</td><td>" + num(s.rate_per_s, 1) + "</td><td>" + num(s.lag_s, 1) + "</td><td>" + esc(s.accepted) + "</td><td>" + esc(s.quarantined) + "</td><td>" + esc(s.buffered) + "</td></tr>";
    }).join("") + "</table><pre>" + esc(JSON.stringify({ updated_at: h.runtime.updated_at, pid: h.runtime.pid, lake: h.runtime.lake, sinks: h.runtime.sinks }, null, 1)) + "</pre>" : '<p class="muted">' + t("no_runtime") + (h.runtime_problem ? " — " + esc(h.runtime_problem) : "") + "</p>";
    el.innerHTML = "<h2>" + t("runtime") + '</h2><div id="runtime">' + rt + "</div><h2>" + t("lake") + "</h2><table><tr><th>table</th><th>rows</th><th>files</th><th>last</th></tr>" + h.lake.map(function (s) { return "<tr><td>" + s.table + "</td><td>" + s.rows.toLocaleString() + "</td><td>" + s.files + "</td><td>" + esc(s.last || "—") + "</td></tr>"; }).join("") + "</table>";
  }

  async function boot() {
    try { me = await api("/api/me"); } catch (e) { me = null; }
    translate();
    if (!me) { $("#login").hidden = false; $("#page").hidden = true; return; }
    $("#login").hidden = true; $("#page").hidden = false; $("#logout").hidden = false;
    $("#who").textContent = me.name + " (" + me.role + ")";
    if (me.role !== "partner") plant = await api("/api/plant");
    translate(); startLive(); route();
  }

  $("#login-form").onsubmit = async function (e) {
    e.preventDefault();
    try { await post("/api/login", { token: $("#token").value }); $("#login-error").textContent = ""; boot(); }
    catch (err) { $("#login-error").textContent = err.message; }
  };
  $("#logout").onclick = async function () { await post("/api/logout"); location.reload(); };
  $("#lang-toggle").onclick = function () { lang = lang === "ko" ? "en" : "ko"; localStorage.setItem("fax-lang", lang); translate(); if (me) route(); };
  window.addEventListener("hashchange", function () { if (me) route(); });
  boot();
})();
