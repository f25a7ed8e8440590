"""A drift report as one self-contained HTML page: inline CSS and SVG, no
script and no request, so that it opens on an air-gapped cluster; its size
depends on the columns and groups, not on the rows."""

from __future__ import annotations

import html
import math
from datetime import datetime, timezone
from typing import Any, Protocol

from dwcp_data.profiles import Profile


class DriftReport(Protocol):
    """What the page shows of a :class:`dwcp_data.DriftReport`."""

    rows: list[dict[str, Any]]

    @property
    def drifted(self) -> bool: ...

    @property
    def drifted_columns(self) -> list[tuple[str | None, str]]: ...


__all__ = ["page", "render"]

#: Bars of a numeric column's chart, and values of a category chart.
_BARS = 40
_CATEGORIES = 12
_WIDTH, _HEIGHT = 360, 120
_REFERENCE, _CURRENT = "#5b7fa6", "#e07b39"

_CSS = """
.dwcp-drift{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1100px;color:#222}
.dwcp-drift h1{font-size:22px;margin:0 0 4px} .dwcp-drift h2{font-size:17px;margin:28px 0 8px}
.dwcp-drift h3{font-size:15px;margin:14px 0 4px}
.dwcp-drift .verdict{display:inline-block;padding:4px 12px;border-radius:14px;color:#fff;font-weight:600}
.dwcp-drift .drift{background:#c0392b} .dwcp-drift .nodrift{background:#27ae60}
.dwcp-drift table{border-collapse:collapse;margin:8px 0}
.dwcp-drift td,.dwcp-drift th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left}
.dwcp-drift td.num{text-align:right;font-variant-numeric:tabular-nums}
.dwcp-drift tr.hit td{color:#c0392b;font-weight:600}
.dwcp-drift .cards{display:flex;flex-wrap:wrap;gap:14px}
.dwcp-drift .card{border:1px solid #ddd;border-radius:8px;padding:10px;width:370px}
.dwcp-drift .card.hit{border-color:#c0392b;box-shadow:0 0 0 1px #c0392b}
.dwcp-drift .muted{color:#777;font-size:12px}
.dwcp-drift .key span{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}
"""


def render(
    report: DriftReport, reference: Profile, current: Profile, extra: dict[str, Any] | None = None
) -> str:
    """The report ``report`` between the profiles ``reference`` and ``current``
    as an HTML fragment (its styles scoped to it, so that a notebook keeps its own);
    ``extra``: summaries to show (e.g. the run's validation and cleaning), by title."""
    hits = set(report.drifted_columns)
    columns = sorted(current.columns, key=lambda c: (not any(col == c for _, col in hits), c))
    verdict = (
        f'<span class="verdict drift">Drift in {len({c for _, c in hits})} column(s)</span>'
        if report.drifted
        else '<span class="verdict nodrift">No drift</span>'
    )
    parts = [
        f"<div class='dwcp-drift'><style>{_CSS}</style>",
        f"<h1>Data drift report</h1><p>{verdict}</p>",
        _sides(reference, current),
        '<p class="key">Charts:<span style="background:' + _REFERENCE + '"></span>reference'
        '<span style="background:' + _CURRENT + '"></span>current</p>',
        _what_drifted(report),
    ]
    for title, summary in (extra or {}).items():
        parts.append(f"<h2>{html.escape(title)}</h2>{_summary_table(summary)}")
    parts.append("<h2>Columns</h2>")
    for column in columns:
        groups = [None] + [g for g in current.groups if (g, column) in hits]
        cards = "".join(_card(report, reference, current, column, g, (g, column) in hits) for g in groups)
        parts.append(
            f'<h3 id="col-{html.escape(column)}">{html.escape(column)}</h3><div class="cards">{cards}</div>'
        )
    parts.append("</div>")
    return "".join(parts)


def page(fragment: str) -> str:
    """``fragment`` (from :func:`render`) as a whole HTML document."""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>Data drift report</title></head><body>{fragment}</body></html>"
    )


def _sides(reference: Profile, current: Profile) -> str:
    def dates(p: Profile) -> str:
        if "timestamp" not in p.columns:
            return "–"
        t = p.column("timestamp")
        if not t.get("count"):
            return "–"
        as_text = [_iso(t["min"]), _iso(t["max"])]
        return f"{as_text[0]} … {as_text[1]}"

    rows = "".join(
        f"<tr><td>{name}</td><td class='num'>{p.rows:,}</td><td>{html.escape(dates(p))}</td></tr>"
        for name, p in (("reference", reference), ("current", current))
    )
    return f"<table><tr><th>side</th><th>rows</th><th>dates (UTC)</th></tr>{rows}</table>"


def _iso(micros: float) -> str:
    try:
        return datetime.fromtimestamp(micros / 1e6, timezone.utc).strftime("%Y-%m-%d %H:%M")
    except (OverflowError, ValueError, OSError):
        return f"{micros:.0f} µs"


def _what_drifted(report: DriftReport) -> str:
    hits = [r for r in report.rows if r["drifted"]]
    if not hits:
        return "<h2>What drifted</h2><p>Nothing passed its threshold.</p>"
    body = "".join(
        f"<tr class='hit'><td><a href='#col-{html.escape(r['column'])}'>{html.escape(r['column'])}</a></td>"
        f"<td>{html.escape(r['group'] or 'all rows')}</td><td>{r['statistic']}</td>"
        f"<td class='num'>{r['value']:.4g}</td><td class='num'>{r['threshold']:.4g}</td></tr>"
        for r in hits
    )
    head = "<tr><th>column</th><th>group</th><th>statistic</th><th>value</th><th>threshold</th></tr>"
    return f"<h2>What drifted</h2><table>{head}{body}</table>"


def _summary_table(summary: Any) -> str:
    items = summary.items() if isinstance(summary, dict) else enumerate(summary or [])
    body = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>" for k, v in items)
    return f"<table>{body}</table>"


def _card(
    report: DriftReport, reference: Profile, current: Profile, column: str, group: str | None, hit: bool
) -> str:
    stats = [r for r in report.rows if r["column"] == column and r["group"] == group]
    rows = "".join(
        f"<tr{' class=hit' if r['drifted'] else ''}><td>{r['statistic']}</td><td class='num'>{r['value']:.4g}</td>"
        f"<td class='num'>{'' if r['threshold'] is None else format(r['threshold'], '.4g')}</td></tr>"
        for r in stats
    )
    try:
        ref, cur = reference.column(column, group), current.column(column, group)
    except Exception:  # a column or group on one side only: its figures, no chart
        return f'<div class="card"><b>{html.escape(group or "all rows")}</b><table>{rows}</table></div>'
    chart = _histogram(ref, cur) if "bins" in ref and "bins" in cur else _shares(ref, cur)
    label = html.escape(group or "all rows")
    return (
        f'<div class="card{" hit" if hit else ""}" data-column="{html.escape(column)}">'
        f"<b>{label}</b> <span class='muted'>{ref['rows']:,} → {cur['rows']:,} rows</span>"
        f"{chart}<table>{rows}</table></div>"
    )


def _histogram(ref: dict[str, Any], cur: dict[str, Any]) -> str:
    """Both sides' shares over ``_BARS`` equal bins between the values' ends, overlaid."""
    ends = [side[k] for side in (ref, cur) for k in ("min", "max") if side.get(k) is not None]
    if not ends:
        return "<p class='muted'>no finite values</p>"
    lo, hi = min(ends), max(ends)
    log = lo > 0 and hi / lo > 100  # a long tail: bars equal on a log scale
    scale = (lambda x: math.log(x)) if log else (lambda x: x)
    first, span = scale(lo), (scale(hi) - scale(lo)) or 1.0

    def bars(side: dict[str, Any]) -> list[float]:
        out = [0.0] * _BARS
        total = side["count"] or 1
        for low, high, n in side["bins"]:
            middle = min(max((low + high) / 2, lo), hi)
            out[min(int((scale(middle) - first) / span * _BARS), _BARS - 1)] += n / total
        return out

    a, b = bars(ref), bars(cur)
    top = max(a + b) or 1.0
    step = _WIDTH / _BARS

    def path(shares: list[float]) -> str:
        points = [f"0,{_HEIGHT}"]
        for i, s in enumerate(shares):
            y = _HEIGHT - s / top * (_HEIGHT - 4)
            points += [f"{i * step:.1f},{y:.1f}", f"{(i + 1) * step:.1f},{y:.1f}"]
        return " ".join([*points, f"{_WIDTH},{_HEIGHT}"])

    return (
        f'<svg class="chart" width="{_WIDTH}" height="{_HEIGHT + 16}" role="img">'
        f'<polygon points="{path(a)}" fill="{_REFERENCE}" fill-opacity="0.45"/>'
        f'<polyline points="{path(b)}" fill="none" stroke="{_CURRENT}" stroke-width="2"/>'
        f'<text x="0" y="{_HEIGHT + 13}" font-size="11">{_short(lo)}</text>'
        f'<text x="{_WIDTH}" y="{_HEIGHT + 13}" font-size="11" text-anchor="end">{_short(hi)}</text>'
        f'<text x="{_WIDTH / 2}" y="{_HEIGHT + 13}" font-size="10" text-anchor="middle" fill="#777">'
        f"{'log scale' if log else 'linear scale'}</text></svg>"
    )


def _shares(ref: dict[str, Any], cur: dict[str, Any]) -> str:
    """Both sides' value shares as paired bars, the most common values first."""
    a, b = ref.get("counts"), cur.get("counts")
    if a is None or b is None:
        return "<p class='muted'>more than 256 distinct values: counts not kept</p>"
    ta, tb = sum(a.values()) or 1, sum(b.values()) or 1
    values = sorted(set(a) | set(b), key=lambda v: -(a.get(v, 0) / ta + b.get(v, 0) / tb))[:_CATEGORIES]
    row = 18
    bars = []
    for i, v in enumerate(values):
        y = i * row
        sa, sb = a.get(v, 0) / ta, b.get(v, 0) / tb
        bars.append(
            f'<text x="0" y="{y + 12}" font-size="11">{html.escape(v[:18])}</text>'
            f'<rect x="120" y="{y + 2}" width="{sa * 230:.1f}" height="7" fill="{_REFERENCE}"/>'
            f'<rect x="120" y="{y + 9}" width="{sb * 230:.1f}" height="7" fill="{_CURRENT}"/>'
            f'<text x="{_WIDTH}" y="{y + 12}" font-size="10" text-anchor="end">{sa:.1%} → {sb:.1%}</text>'
        )
    return f'<svg class="chart" width="{_WIDTH}" height="{len(values) * row + 4}" role="img">{"".join(bars)}</svg>'


def _short(x: float) -> str:
    if x == 0 or 1e-3 <= abs(x) < 1e6:
        return f"{x:.4g}"
    return f"{x:.2e}" if math.isfinite(x) else str(x)
