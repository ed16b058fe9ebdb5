"""A study's report: text for the terminal, an HTML page with its figures for people.

What it shows: how the study was run (sampler, seed, library versions), the best
feasible trial or the Pareto front, the history of the objective, and — fitted to the
completed trials — a Gaussian-process and a gradient-boosting surrogate with their
cross-validated accuracy and the Sobol sensitivity of the first objective. Figures are
drawn with matplotlib's object API (no pyplot state) and embedded in the HTML as PNG,
so the page works offline and can be mailed as one file.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from factoryax.optimize.study import Study, TrialRecord
from factoryax.optimize.surrogate import (
    CrossValidation,
    GaussianProcessSurrogate,
    GradientBoostingSurrogate,
    Sensitivity,
    cross_validate,
    sensitivity,
)

__all__ = ["StudyReport", "build_report"]


@dataclass(frozen=True)
class StudyReport:
    """Everything the report shows, computed once."""

    study: Study
    records: list[TrialRecord]
    cv: dict[str, CrossValidation]
    sensitivity: Sensitivity | None

    def text(self) -> str:
        """A plain-text summary (what ``factoryax optimize report`` prints)."""
        cfg = self.study.config
        attrs = self.study.attrs
        versions = attrs.get("versions", {})
        done = [r for r in self.records if r.state == "COMPLETE"]
        lines = [
            f"study {cfg.name!r}: {len(self.records)} trials ({len(done)} complete, "
            f"{sum(r.state == 'FAIL' for r in self.records)} failed, "
            f"{sum(r.feasible for r in done)} feasible)",
            f"sampler {cfg.sampler}, seed {cfg.seed}, batch {cfg.batch}, initial "
            f"{cfg.n_initial} ({cfg.initial_design}); created {attrs.get('created_at', '?')}",
            "versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
            "objectives: "
            + ", ".join(f"{o.direction} {o.metric}" for o in cfg.objectives)
            + (
                "; constraints: "
                + ", ".join(
                    f"{c.metric}"
                    + (f" <= {c.max:g}" if c.max is not None else "")
                    + (f" >= {c.min:g}" if c.min is not None else "")
                    for c in cfg.constraints
                )
                if cfg.constraints
                else ""
            ),
        ]
        result = self.study.result()
        if result.best is not None:
            lines.append(f"best (trial {result.best.number}): " + self._point(result.best))
            lines.append("  metrics: " + _fmt_metrics(result.best.metrics))
        elif len(cfg.objectives) > 1:
            lines.append(f"Pareto front: {len(result.pareto)} trial(s)")
            for r in result.pareto[:20]:
                values = ", ".join(
                    f"{o.metric}={v:.4g}"
                    for o, v in zip(cfg.objectives, r.values or (), strict=False)
                )
                lines.append(f"  #{r.number}: {values} | {self._point(r)}")
        else:
            lines.append("no feasible trial yet")
        for name, cv in self.cv.items():
            cover = (
                f", 95% interval coverage {cv.coverage95:.2f}" if cv.coverage95 is not None else ""
            )
            lines.append(
                f"surrogate {name} for {cfg.objectives[0].metric}: {len(cv.actual)}-point "
                f"5-fold CV R² {cv.r2:.3f}, RMSE {cv.rmse:.4g}{cover}"
            )
        if self.sensitivity is not None:
            lines.append("sensitivity (Sobol indices of the GP mean; first / total):")
            for name, first, total in self.sensitivity.ranked():
                lines.append(f"  {name:<24} {first:5.2f} / {total:5.2f}")
        return "\n".join(lines)

    def _point(self, r: TrialRecord) -> str:
        parts = []
        for p in self.study.config.space.parameters:
            value = r.params.get(p.name)
            shown = f"{value:.4g}" if isinstance(value, float) else str(value)
            parts.append(f"{p.name}={shown}{(' ' + p.unit) if p.unit else ''}")
        return ", ".join(parts)

    def figures(self) -> dict[str, bytes]:
        """PNG figures by file name."""
        out = {"history.png": self._history()}
        if len(self.study.config.objectives) >= 2:
            out["pareto.png"] = self._pareto()
        if "gp" in self.cv:
            out["cv.png"] = self._cv()
        if self.sensitivity is not None:
            out["sensitivity.png"] = self._sensitivity()
        return out

    def write(self, folder: Path) -> Path:
        """Writes ``report.txt``, the PNG figures and ``report.html``; returns the HTML."""
        folder.mkdir(parents=True, exist_ok=True)
        text = self.text()
        (folder / "report.txt").write_text(text + "\n", encoding="utf-8")
        figures = self.figures()
        imgs = []
        for name, png in figures.items():
            (folder / name).write_bytes(png)
            data = base64.b64encode(png).decode("ascii")
            imgs.append(f'<figure><img alt="{name}" src="data:image/png;base64,{data}"></figure>')
        rows = "".join(self._html_row(r) for r in self.records)
        heads = "".join(
            f"<th>{html.escape(p.name)}{(' [' + html.escape(p.unit) + ']') if p.unit else ''}</th>"
            for p in self.study.config.space.parameters
        )
        metric_names = sorted({m for r in self.records for m in r.metrics})
        heads += "".join(f"<th>{html.escape(m)}</th>" for m in metric_names)
        page = (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>Study {html.escape(self.study.config.name)}</title>"
            "<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 6px;"
            "border-bottom:1px solid #ddd;font-size:12px}img{max-width:640px}"
            ".bad{color:#999}</style></head><body>"
            f"<h1>Study {html.escape(self.study.config.name)}</h1>"
            f"<pre>{html.escape(text)}</pre>{''.join(imgs)}"
            "<h2>Trials</h2><table><tr><th>#</th><th>state</th><th>source</th>"
            f"{heads}</tr>{rows}</table></body></html>"
        )
        path = folder / "report.html"
        path.write_text(page.replace("\x00", ""), encoding="utf-8")
        return path

    def _html_row(self, r: TrialRecord) -> str:
        metric_names = sorted({m for t in self.records for m in t.metrics})
        cells = [str(r.number), r.state + ("" if r.feasible else " (infeasible)"), r.source]
        cells += [str(r.params.get(p.name, "")) for p in self.study.config.space.parameters]
        cells += [f"{r.metrics[m]:.5g}" if m in r.metrics else "" for m in metric_names]
        cls = "" if r.feasible else " class='bad'"
        return f"<tr{cls}>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"

    # ------------------------------------------------------------------ figures

    def _history(self) -> bytes:
        cfg = self.study.config
        obj = cfg.objectives[0]
        fig = Figure(figsize=(6.4, 3.6))
        ax = fig.add_subplot()
        done = [r for r in self.records if r.values is not None]
        xs = [r.number for r in done]
        ys = [r.values[0] for r in done if r.values is not None]
        colors = ["tab:blue" if r.feasible else "tab:gray" for r in done]
        ax.scatter(xs, ys, c=colors, s=14, label="trial (grey: infeasible)")
        best, line = None, []
        for r in done:
            if r.feasible and r.values is not None:
                v = r.values[0]
                better = best is None or (v < best if obj.direction == "minimize" else v > best)
                best = v if better else best
            line.append(best if best is not None else np.nan)
        ax.step(xs, line, where="post", color="tab:red", label="best feasible so far")
        ax.axvline(cfg.n_initial - 0.5, color="k", lw=0.6, ls=":", label="end of initial design")
        ax.set_xlabel("trial")
        ax.set_ylabel(f"{obj.metric} ({obj.direction})")
        ax.legend(fontsize=7)
        return _png(fig)

    def _pareto(self) -> bytes:
        cfg = self.study.config
        fig = Figure(figsize=(5.0, 4.0))
        ax = fig.add_subplot()
        done = [r for r in self.records if r.values is not None]
        front = {r.number for r in self.study.result().pareto}
        for r in done:
            assert r.values is not None
            on = r.number in front
            ax.scatter(
                r.values[0],
                r.values[1],
                s=22 if on else 10,
                c="tab:red" if on else ("tab:blue" if r.feasible else "tab:gray"),
            )
        ax.set_xlabel(f"{cfg.objectives[0].metric} ({cfg.objectives[0].direction})")
        ax.set_ylabel(f"{cfg.objectives[1].metric} ({cfg.objectives[1].direction})")
        ax.set_title("trials (red: feasible Pareto front)", fontsize=9)
        return _png(fig)

    def _cv(self) -> bytes:
        cv = self.cv["gp"]
        fig = Figure(figsize=(4.2, 4.0))
        ax = fig.add_subplot()
        ax.scatter(cv.actual, cv.predicted, s=12)
        lo, hi = min(cv.actual + cv.predicted), max(cv.actual + cv.predicted)
        ax.plot([lo, hi], [lo, hi], color="k", lw=0.7)
        ax.set_xlabel("observed")
        ax.set_ylabel("GP out-of-fold prediction")
        ax.set_title(f"5-fold CV: R² {cv.r2:.2f}", fontsize=9)
        return _png(fig)

    def _sensitivity(self) -> bytes:
        assert self.sensitivity is not None
        ranked = self.sensitivity.ranked()
        fig = Figure(figsize=(6.0, 0.5 + 0.35 * len(ranked)))
        ax = fig.add_subplot()
        y = np.arange(len(ranked))[::-1]
        ax.barh(y + 0.18, [r[2] for r in ranked], height=0.35, label="total")
        ax.barh(y - 0.18, [r[1] for r in ranked], height=0.35, label="first order")
        ax.set_yticks(y, [r[0] for r in ranked])
        ax.set_xlim(0, 1)
        ax.set_xlabel("Sobol index (share of variance)")
        ax.legend(fontsize=7)
        return _png(fig)


def build_report(study: Study, *, seed: int = 0) -> StudyReport:
    """Fits the surrogates to the completed feasible-or-not trials and collects it all."""
    records = study.records()
    done = [r for r in records if r.state == "COMPLETE" and r.values is not None]
    cv: dict[str, CrossValidation] = {}
    sens: Sensitivity | None = None
    space = study.config.space
    if len(done) >= 8:
        points = [r.params for r in done]
        y = [r.values[0] for r in done if r.values is not None]
        cv["gp"] = cross_validate(lambda: GaussianProcessSurrogate(space, seed=seed), points, y)
        cv["gbm"] = cross_validate(lambda: GradientBoostingSurrogate(space, seed=seed), points, y)
        sens = sensitivity(GaussianProcessSurrogate(space, seed=seed).fit(points, y), n=512)
    return StudyReport(study=study, records=records, cv=cv, sensitivity=sens)


def _png(fig: Figure) -> bytes:
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _fmt_metrics(metrics: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.5g}" for k, v in sorted(metrics.items()))
