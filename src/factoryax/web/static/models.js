/* Model registry page: every version with stage, fingerprint, backtest and shadow figures;
   engineers and admins can put a version through detect's promotion gate. */
"use strict";
window.FaxPages = window.FaxPages || {};
window.FaxPages.models = async function (el, args, h) {
  const t = h.t, esc = h.esc, pct = h.pct, num = h.num;
  const me = h.me();
  const canPromote = me && (me.role === "engineer" || me.role === "admin");
  const list = await h.api("/api/models");
  const hours = function (s) { return s === null || s === undefined ? "—" : num(s / 3600, 2) + " " + t("hours"); };
  const figures = function (b) {
    if (!b) return '<span class="muted">' + t("not_run") + "</span>";
    if (!b.truth) return t("alarms_per_shift") + " " + num(b.alarms_per_shift, 2) + ' <span class="muted">(' + t("no_truth") + ")</span>";
    return '<table class="figs"><tr><th>' + t("detection_rate") + "</th><th>" + t("lead_time") + "</th><th>" + t("false_alarms_shift") + "</th><th>" + t("precision") + "</th><th>" + t("alarms_n") + "</th></tr><tr>" +
      '<td class="fig-detection">' + pct(b.detection_rate) + '</td><td class="fig-lead">' + hours(b.mean_lead_time_s) + '</td><td class="fig-fa">' + num(b.false_alarms_per_shift, 2) + '</td><td class="fig-precision">' + pct(b.precision) + "</td><td>" + esc(b.alarms) + "</td></tr></table>" +
      (b.window ? '<div class="muted">' + when(b.window[0]) + " → " + when(b.window[1]) + (b.in_sample === false ? " · " + t("out_of_sample") : "") + "</div>" : "");
  };
  const shadow = function (s) {
    if (!s) return '<span class="muted">' + t("not_run") + "</span>";
    return t("candidate") + ": " + figures(s.candidate) + (s.production ? t("production") + " v" + esc(s.production.version) + ": " + figures(s.production) : "") +
      (s.agreement === null || s.agreement === undefined ? "" : '<div>' + t("agreement") + " " + pct(s.agreement) + "</div>");
  };
  const when = function (s) { return s ? new Date(s).toLocaleString() : "—"; };
  const fingerprint = function (f) {
    if (!f || !Object.keys(f).length) return "—";
    return '<div class="fp" title="' + esc(JSON.stringify(f)) + '">' + (f.sha256 ? "<b>sha256</b> " + esc(String(f.sha256).slice(0, 12)) + "…<br>" : "") +
      (f.rows !== undefined ? "<b>" + t("rows") + "</b> " + esc(Number(f.rows).toLocaleString()) + "<br>" : "") + when(f.from) + " →<br>" + when(f.to) + "</div>";
  };
  const metrics = function (m) {
    const keys = Object.keys(m || {});
    return keys.length ? keys.map(function (k) { return esc(k) + " " + esc(typeof m[k] === "number" ? num(m[k], 3) : JSON.stringify(m[k])); }).join("<br>") : "—";
  };
  const rows = list.map(function (m) {
    const action = canPromote && m.stage !== "production" ? '<button class="promote">' + t("promote") + "</button>" : "";
    return '<tr data-model="' + esc(m.name) + '" data-version="' + m.version + '"><td><b>' + esc(m.name) + "</b><br>v" + m.version + " · " + esc(m.kind) + (m.asset ? " · " + esc(m.asset) : "") + "</td>" +
      '<td><span class="stage ' + esc(m.stage) + '">' + esc(t("stage_" + m.stage)) + "</span></td><td>" + new Date(m.created_at).toLocaleString() + "</td><td>" + fingerprint(m.fingerprint) + "</td><td>" + metrics(m.metrics) + '</td><td class="backtest">' + figures(m.backtest) + "</td><td>" + shadow(m.shadow) + "</td><td>" + action + '<div class="promote-msg"></div></td></tr>';
  }).join("");
  el.innerHTML = "<h2>" + t("models") + " (" + list.length + ")</h2>" +
    (list.length ? '<table id="models-table"><tr><th>' + t("model") + "</th><th>" + t("stage") + "</th><th>" + t("created") + "</th><th>" + t("fingerprint") + "</th><th>" + t("metrics") + "</th><th>" + t("backtest") + "</th><th>" + t("shadow") + "</th><th>" + t("actions") + "</th></tr>" + rows + "</table>" : '<p class="muted">' + t("no_models") + "</p>") +
    (canPromote ? '<p class="muted">' + t("promote_note") + "</p>" : "");
  el.querySelectorAll("#models-table tr[data-model]").forEach(function (tr) {
    const btn = h.$(".promote", tr), out = h.$(".promote-msg", tr);
    if (!btn) return;
    btn.onclick = function () {
      btn.disabled = true; out.className = "promote-msg"; out.textContent = t("loading");
      h.post("/api/models/promote", { name: tr.dataset.model, version: Number(tr.dataset.version) }).then(function (r) {
        out.className = "promote-msg " + (r.decision === "promoted" ? "okmsg" : "error");
        out.innerHTML = "<b>" + esc(t("decision_" + r.decision)) + "</b><br>" + r.reasons.map(esc).join("<br>");
        if (r.decision === "promoted") setTimeout(h.rerender, 1500);
      }).catch(function (e) { out.className = "promote-msg error"; out.textContent = e.message; btn.disabled = false; });
    };
  });
};
