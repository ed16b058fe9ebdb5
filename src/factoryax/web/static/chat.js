/* Agent chat page: ask in Korean or English, see the grounded answer with its evidence ids,
   the trace's spans, and approve a pending state-changing action (if your role may). */
"use strict";
window.FaxPages = window.FaxPages || {};
(function () {
  const turns = []; /* this page load's conversation: {q, r, spans, approval, error} */

  function answerHtml(text, esc) {
    return esc(text).replace(/\[(ev-[0-9a-f]+)\]/g, '<span class="ev-chip">$1</span>').replace(/\n/g, "<br>");
  }

  function turnHtml(turn, i, h) {
    const t = h.t, esc = h.esc, r = turn.r;
    let html = '<div class="turn" data-i="' + i + '"><div class="q">' + esc(turn.q) + "</div>";
    if (turn.error) return html + '<div class="a error">' + esc(turn.error) + "</div></div>";
    if (!r) return html + '<div class="a muted">' + t("thinking") + "</div></div>";
    html += '<div class="a' + (r.abstained ? " abstained" : "") + '"><div class="answer">' + answerHtml(r.answer, esc) + "</div>";
    html += '<div class="evidence"><b>' + t("evidence") + "</b>: " + (r.citations.length ? r.citations.map(function (c) { return '<span class="ev-id">' + esc(c) + "</span>"; }).join(" ") : '<span class="muted">' + t("none_yet") + "</span>") + "</div>";
    if (r.evidence.length) {
      html += "<details><summary>" + t("tool_calls") + " (" + r.evidence.length + ")</summary>" + r.evidence.map(function (e) {
        return '<div class="ev"><b>' + esc(e.id) + "</b> " + esc(e.tool) + " " + esc(JSON.stringify(e.args)) + (e.error ? ' <span class="error">' + esc(e.error) + "</span>" : "") + (e.output ? "<pre>" + esc(JSON.stringify(e.output, null, 1)) + "</pre>" : "") + "</div>";
      }).join("") + "</details>";
    }
    if (r.pending) {
      const a = turn.approval;
      html += '<div class="pending card"><b>' + t("pending_action") + "</b>: " + esc(r.pending.tool) + " " + esc(JSON.stringify(r.pending.args)) + " · " + esc(r.pending.id) + " · " + t("requested_by") + " " + esc(r.pending.requested_by) +
        '<br><button class="approve"' + (a && a.status === "done" ? " disabled" : "") + ">" + t("approve") + '</button> <span class="approval-msg ' + (a ? (a.refused ? "error" : a.status === "done" ? "okmsg" : "error") : "") + '">' +
        (a ? (a.refused ? esc(a.refused) : esc(t("status_" + a.status) + (a.approved_by ? " · " + t("approved_by") + " " + a.approved_by : "") + (a.error ? " · " + a.error : ""))) : "") + "</span>" +
        (a && a.result ? "<pre>" + esc(JSON.stringify(a.result, null, 1)) + "</pre>" : "") + "</div>";
    }
    html += '<div class="meta muted">' + t("intent") + " " + esc(r.intent) + " · " + t("planner") + " " + esc(r.planner) + " · " + (r.latency_s * 1000).toFixed(0) + " ms" + (r.trace_id ? " · trace " + esc(r.trace_id) : "") + "</div>";
    if (turn.spans) {
      html += '<details class="trace"><summary>' + t("trace") + " (" + turn.spans.length + " spans)</summary><table><tr><th>span</th><th>status</th><th>ms</th><th>" + t("details") + "</th></tr>" + turn.spans.map(function (s) {
        const at = s.attributes || {}, keys = ["gen_ai.tool.call.id", "factoryax.intent", "factoryax.tool.args", "factoryax.pending", "factoryax.approval.by"];
        const info = keys.filter(function (k) { return at[k] !== undefined && at[k] !== null && at[k] !== ""; }).map(function (k) { return esc(k) + "=" + esc(at[k]); }).join("<br>");
        return '<tr class="span-row"><td>' + (s.parent_id ? "&nbsp;&nbsp;└ " : "") + esc(s.name) + "</td><td>" + esc(s.status) + "</td><td>" + Number(s.duration_ms).toFixed(1) + "</td><td>" + info + "</td></tr>";
      }).join("") + "</table></details>";
    }
    return html + "</div></div>";
  }

  window.FaxPages.chat = async function (el, args, h) {
    const t = h.t;
    const waiting = await h.api("/api/agent/pending");
    const queue = waiting.length ? '<div id="pending-list" class="card"><b>' + t("pending_actions") + " (" + waiting.length + ")</b>" + waiting.map(function (a) {
      return '<div class="pending-item" data-id="' + h.esc(a.id) + '">' + h.esc(a.id) + " · " + h.esc(a.tool) + " " + h.esc(JSON.stringify(a.args)) + " · " + t("requested_by") + " " + h.esc(a.requested_by) + " (" + h.esc(a.requested_role) + ') <button class="approve-queued">' + t("approve") + '</button> <span class="approval-msg"></span></div>';
    }).join("") + "</div>" : "";
    el.innerHTML = "<h2>" + t("chat") + '</h2><p class="muted">' + t("chat_hint") + "</p>" + queue + '<div id="chat-log"></div>' +
      '<form id="chat-form" class="row"><input id="chat-input" autocomplete="off" maxlength="2000" placeholder="' + t("ask_placeholder") + '" style="flex:1"><button class="big" type="submit" id="chat-send">' + t("send") + "</button></form>";
    const paint = function () {
      const log = h.$("#chat-log");
      if (!log) return; /* the page was left or re-rendered; the next render paints turns */
      log.innerHTML = turns.map(function (turn, i) { return turnHtml(turn, i, h); }).join("");
      log.querySelectorAll(".turn").forEach(function (div) {
        const turn = turns[Number(div.dataset.i)], btn = h.$(".approve", div);
        if (btn) btn.onclick = function () {
          btn.disabled = true;
          h.post("/api/agent/approve", { pending_id: turn.r.pending.id })
            .then(function (a) { turn.approval = a; }).catch(function (e) { turn.approval = { refused: e.message }; })
            .then(paint);
        };
      });
      const last = log.lastElementChild; if (last) last.scrollIntoView({ block: "nearest" });
    };
    paint();
    el.querySelectorAll(".pending-item").forEach(function (div) {
      const btn = h.$(".approve-queued", div), msg = h.$(".approval-msg", div);
      btn.onclick = function () {
        btn.disabled = true;
        h.post("/api/agent/approve", { pending_id: div.dataset.id }).then(function (a) {
          msg.className = "approval-msg " + (a.status === "done" ? "okmsg" : "error");
          msg.textContent = t("status_" + a.status) + " · " + t("approved_by") + " " + a.approved_by + (a.error ? " · " + a.error : "");
        }).catch(function (e) { msg.className = "approval-msg error"; msg.textContent = e.message; btn.disabled = false; });
      };
    });
    h.$("#chat-form", el).onsubmit = async function (e) {
      e.preventDefault();
      const input = h.$("#chat-input", el), q = input.value.trim();
      if (!q) return;
      const turn = { q: q, r: null, spans: null, approval: null, error: null };
      turns.push(turn); input.value = ""; paint();
      try {
        turn.r = await h.post("/api/agent/ask", { text: q });
        if (turn.r.trace_id) turn.spans = (await h.api("/api/agent/traces/" + encodeURIComponent(turn.r.trace_id))).spans;
      } catch (err) { turn.error = err.message; }
      paint();
    };
  };
})();
