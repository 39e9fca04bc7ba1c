"""Inline SVG charts: no script, no external asset, crisp in print.

The charts draw what the report JSON holds — shares per privacy-safe cell and
association matrices — and escape every label.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

__all__ = ["REAL", "SYNTHETIC", "heatmap", "paired_bars", "quantile_chart"]

REAL = "#1f6feb"
SYNTHETIC = "#e36209"
_FONT = 'font-family="system-ui,-apple-system,Segoe UI,Roboto,sans-serif"'


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _num(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return 0.0


def paired_bars(
    title: str,
    labels: Sequence[str],
    real: Sequence[object],
    synthetic: Sequence[object],
    *,
    width: int = 440,
    series: tuple[str, str] = ("real", "synthetic"),
    percent: bool = True,
) -> str:
    """Horizontal bars, real above synthetic, one pair per label; values are shares
    (printed as percentages), or scores printed as they are when *percent* is false."""
    label_w, value_w, row_h, top = 140, 44, 24, 34
    plot_w = width - label_w - value_w - 8
    height = top + row_h * len(labels) + 6
    peak = max([_num(v) for v in (*real, *synthetic)] + [1e-9])
    gap = max(80, 6 * len(series[0]) + 30)  # the second legend entry after the first
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" {_FONT} '
        f'font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="12" font-weight="600" font-size="12">{escape(_clip(title, 60))}</text>',
        f'<rect x="{label_w}" y="19" width="10" height="8" fill="{REAL}"/>'
        f'<text x="{label_w + 14}" y="27">{escape(series[0])}</text>'
        f'<rect x="{label_w + gap}" y="19" width="10" height="8" fill="{SYNTHETIC}"/>'
        f'<text x="{label_w + gap + 14}" y="27">{escape(series[1])}</text>',
    ]
    for i, label in enumerate(labels):
        y = top + i * row_h
        r = _num(real[i]) if i < len(real) else 0.0
        s = _num(synthetic[i]) if i < len(synthetic) else 0.0
        rw, sw = plot_w * max(r, 0.0) / peak, plot_w * max(s, 0.0) / peak
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">'
            f"<title>{escape(label)}</title>{escape(_clip(label, 24))}</text>"
            f'<rect x="{label_w}" y="{y + 2}" width="{rw:.1f}" height="8" fill="{REAL}"/>'
            f'<rect x="{label_w}" y="{y + 11}" width="{sw:.1f}" height="8" fill="{SYNTHETIC}"/>'
            f'<text x="{width - 2}" y="{y + 9}" text-anchor="end" fill="{REAL}">'
            f"{_value_text(r, percent)}</text>"
            f'<text x="{width - 2}" y="{y + 19}" text-anchor="end" fill="{SYNTHETIC}">'
            f"{_value_text(s, percent)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _value_text(value: float, percent: bool) -> str:
    return f"{100 * value:.1f}%" if percent else f"{value:.3f}"


#: (label, low, high, marker): a row of :func:`quantile_chart`
QuantileRow = tuple[str, object, object, object]


def quantile_chart(
    title: str,
    rows: Sequence[QuantileRow],
    *,
    low_name: str,
    marker_name: str,
    width: int = 440,
    colours: Sequence[str] = (SYNTHETIC, REAL),
) -> str:
    """Summary figures of distributions, one row each: a band from *low* to *high* and a dot
    at *marker* (e.g. 5th percentile to mean, dot at the mean), on one axis from 0.

    Only summary figures are drawn (never a row's value); a missing figure is left out.
    """
    label_w, top, row_h, value_w = 150, 46, 28, 16
    plot_w = width - label_w - value_w
    height = top + row_h * len(rows) + 26
    values = [max(_num(v), 0.0) for r in rows for v in r[1:] if v is not None]
    peak = max([*values, 1e-9]) * 1.1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" {_FONT} '
        f'font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="12" font-weight="600" font-size="12">{escape(_clip(title, 60))}</text>',
        f'<circle cx="{label_w + 4}" cy="24" r="4" fill="#59636e"/>'
        f'<text x="{label_w + 12}" y="28">{escape(marker_name)}</text>',
    ]
    if low_name:
        parts.append(
            f'<line x1="{label_w + 120}" y1="24" x2="{label_w + 136}" y2="24" stroke="#59636e" '
            f'stroke-opacity="0.45" stroke-width="8"/>'
            f'<text x="{label_w + 140}" y="28">{escape(low_name)}</text>'
        )
    for i, (label, low, high, marker) in enumerate(rows):
        y = top + i * row_h + 10
        colour = colours[i % len(colours)]
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 4}" text-anchor="end">'
            f"<title>{escape(label)}</title>{escape(_clip(label, 26))}</text>"
        )
        if low is not None and high is not None:
            x1 = label_w + plot_w * max(_num(low), 0.0) / peak
            x2 = label_w + plot_w * max(_num(high), 0.0) / peak
            parts.append(
                f'<line x1="{x1:.1f}" y1="{y}" x2="{max(x2, x1 + 1):.1f}" y2="{y}" '
                f'stroke="{colour}" stroke-opacity="0.45" stroke-width="8"/>'
            )
        if marker is not None:
            x = label_w + plot_w * max(_num(marker), 0.0) / peak
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y}" r="5" fill="{colour}"/>'
                f'<text x="{x:.1f}" y="{y - 8}" text-anchor="middle" fill="{colour}">'
                f"{_num(marker):.3g}</text>"
            )
    axis_y = top + row_h * len(rows) - 6
    parts.append(
        f'<line x1="{label_w}" y1="{axis_y}" x2="{label_w + plot_w}" y2="{axis_y}" '
        'stroke="#d1d9e0"/>'
    )
    for k in range(5):
        v = peak * k / 4
        x = label_w + plot_w * k / 4
        anchor = "end" if k == 4 else "middle"
        parts.append(
            f'<text x="{x:.1f}" y="{axis_y + 14}" text-anchor="{anchor}" fill="#59636e">'
            f"{v:.2g}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _red(value: float, vmax: float) -> str:
    t = max(0.0, min(1.0, value / vmax)) if vmax > 0 else 0.0
    # white → #cf222e
    r = round(255 + (207 - 255) * t)
    g = round(255 + (34 - 255) * t)
    b = round(255 + (46 - 255) * t)
    return f"#{r:02x}{g:02x}{b:02x}"


def heatmap(
    title: str, columns: Sequence[str], matrix: Sequence[Sequence[object]], *, vmax: float = 0.5
) -> str:
    """A square matrix of non-negative differences, white (0) to red (≥ *vmax*)."""
    n = len(columns)
    cell = max(12, min(34, 400 // max(n, 1)))
    label_w, top = 120, 110
    width = label_w + cell * n + 10
    height = top + cell * n + 40
    show_values = n <= 12
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" {_FONT} '
        f'font-size="10">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="12" font-weight="600" font-size="12">{escape(_clip(title, 70))}</text>',
    ]
    for j, col in enumerate(columns):
        x = label_w + j * cell + cell / 2
        parts.append(
            f'<text transform="translate({x:.1f},{top - 4}) rotate(-50)">'
            f"<title>{escape(col)}</title>{escape(_clip(col, 16))}</text>"
        )
    for i, col in enumerate(columns):
        y = top + i * cell
        parts.append(
            f'<text x="{label_w - 4}" y="{y + cell / 2 + 3:.1f}" text-anchor="end">'
            f"<title>{escape(col)}</title>{escape(_clip(col, 18))}</text>"
        )
        row = matrix[i] if i < len(matrix) else []
        for j in range(n):
            v = _num(row[j]) if j < len(row) else 0.0
            x = label_w + j * cell
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell - 1}" height="{cell - 1}" '
                f'fill="{_red(v, vmax)}" stroke="#d1d9e0" stroke-width="0.5"/>'
            )
            if show_values and i != j:
                ink = "#fff" if v / vmax > 0.6 else "#1f2328"
                parts.append(
                    f'<text x="{x + cell / 2:.1f}" y="{y + cell / 2 + 3:.1f}" '
                    f'text-anchor="middle" fill="{ink}" font-size="9">{v:.2f}</text>'
                )
    ly = top + cell * n + 14
    for k in range(6):
        v = vmax * k / 5
        parts.append(
            f'<rect x="{label_w + k * 34}" y="{ly}" width="34" height="10" fill="{_red(v, vmax)}" '
            f'stroke="#d1d9e0" stroke-width="0.5"/>'
            f'<text x="{label_w + k * 34}" y="{ly + 22}">{v:.1f}{"+" if k == 5 else ""}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
