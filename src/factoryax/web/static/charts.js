/* Small canvas charts: lines with limits and marks, and horizontal Pareto bars. */
"use strict";
window.Charts = (function () {
  function setup(canvas) {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || 600, h = canvas.clientHeight || 220;
    canvas.width = w * dpr; canvas.height = h * dpr;
    const g = canvas.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    return { g: g, w: w, h: h };
  }
  function fmtTime(ms) {
    const d = new Date(ms);
    return (d.getMonth() + 1) + "/" + d.getDate() + " " + String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
  }
  /* series: [{points: [[x, y]...], color}], opts: {hlines: [{y, color, label}], marks: [x...], title} */
  function line(canvas, series, opts) {
    opts = opts || {};
    const c = setup(canvas), g = c.g, L = 52, R = 10, T = 18, B = 22;
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    series.forEach(function (s) { s.points.forEach(function (p) {
      if (p[1] === null) return;
      x0 = Math.min(x0, p[0]); x1 = Math.max(x1, p[0]); y0 = Math.min(y0, p[1]); y1 = Math.max(y1, p[1]);
    }); });
    (opts.hlines || []).forEach(function (h) { if (h.y !== null && h.y !== undefined) { y0 = Math.min(y0, h.y); y1 = Math.max(y1, h.y); } });
    g.fillStyle = "#66717d"; g.font = "12px system-ui";
    if (opts.title) g.fillText(opts.title, L, 12);
    if (!isFinite(x0)) { g.fillText("—", c.w / 2, c.h / 2); return; }
    if (y1 === y0) { y1 += 1; y0 -= 1; }
    if (x1 === x0) { x1 += 1; }
    const pad = (y1 - y0) * 0.06; y0 -= pad; y1 += pad;
    const X = function (x) { return L + (x - x0) / (x1 - x0) * (c.w - L - R); };
    const Y = function (y) { return T + (1 - (y - y0) / (y1 - y0)) * (c.h - T - B); };
    g.strokeStyle = "#e3e7eb"; g.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const yy = y0 + (y1 - y0) * i / 4, py = Y(yy);
      g.beginPath(); g.moveTo(L, py); g.lineTo(c.w - R, py); g.stroke();
      g.fillText(Number(yy.toPrecision(4)).toString(), 2, py + 4);
    }
    g.fillText(fmtTime(x0), L, c.h - 6);
    const right = fmtTime(x1); g.fillText(right, c.w - R - g.measureText(right).width, c.h - 6);
    (opts.hlines || []).forEach(function (h) {
      if (h.y === null || h.y === undefined) return;
      g.strokeStyle = h.color || "#d93025"; g.setLineDash([5, 4]);
      g.beginPath(); g.moveTo(L, Y(h.y)); g.lineTo(c.w - R, Y(h.y)); g.stroke(); g.setLineDash([]);
      if (h.label) { g.fillStyle = h.color; g.fillText(h.label, c.w - R - 40, Y(h.y) - 3); g.fillStyle = "#66717d"; }
    });
    series.forEach(function (s) {
      g.strokeStyle = s.color || "#1a73e8"; g.lineWidth = 1.2; g.beginPath();
      let pen = false;
      s.points.forEach(function (p) {
        if (p[1] === null) { pen = false; return; }
        if (pen) g.lineTo(X(p[0]), Y(p[1])); else { g.moveTo(X(p[0]), Y(p[1])); pen = true; }
      });
      g.stroke();
    });
    if (opts.marks && series.length) {
      const at = {}; series[0].points.forEach(function (p) { at[p[0]] = p[1]; });
      g.fillStyle = "#d93025";
      opts.marks.forEach(function (m) {
        if (at[m] === undefined || at[m] === null) return;
        g.beginPath(); g.arc(X(m), Y(at[m]), 3.5, 0, 2 * Math.PI); g.fill();
      });
    }
    canvas.dataset.points = String(series.reduce(function (n, s) { return n + s.points.length; }, 0));
  }
  /* gauge: an SVG half-circle for a ratio in [0, 1] */
  function gauge(value, label) {
    const v = value === null || value === undefined ? null : Math.max(0, Math.min(1, value));
    const a = Math.PI * (1 - (v || 0)), x = 50 + 40 * Math.cos(a), y = 50 - 40 * Math.sin(a);
    const color = v === null ? "#bbb" : v >= 0.85 ? "#1e8e3e" : v >= 0.6 ? "#e37400" : "#d93025";
    const arc = v === null || v === 0 ? "" : '<path d="M10 50 A40 40 0 0 1 ' + x.toFixed(1) + " " + y.toFixed(1) + '" stroke="' + color + '" stroke-width="9" fill="none"/>';
    return '<svg viewBox="0 0 100 62" width="110" role="img" aria-label="' + label + '"><path d="M10 50 A40 40 0 0 1 90 50" stroke="#e3e7eb" stroke-width="9" fill="none"/>' + arc +
      '<text x="50" y="48" text-anchor="middle" font-size="15" font-weight="600">' + (v === null ? "—" : (v * 100).toFixed(1) + "%") + '</text><text x="50" y="60" text-anchor="middle" font-size="8" fill="#66717d">' + label + "</text></svg>";
  }
  return { line: line, gauge: gauge, fmtTime: fmtTime };
})();
