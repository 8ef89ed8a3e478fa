"""Plain-text metric tables for the terminal."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from stvlm.data.protocols import horizon_key


def metrics_table(
    metrics: Mapping[str, float], names: Sequence[str], horizons: Sequence[int], *, minutes: int | None = None
) -> str:
    """Rows ``overall`` and one per reported horizon, one column per metric.

    Args:
        metrics: flat dict with keys ``mae`` and ``mae_h3`` style.
        names: metric names (columns), e.g. ``("mae", "rmse", "mape", "wape")``.
        horizons: reported horizons (1-based steps).
        minutes: minutes per step, to label horizons in minutes as well.
    """

    def fmt(v: float | None) -> str:
        return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}"

    header = ["horizon"] + [n.upper() if n in ("mae", "rmse", "mape", "wape") else n for n in names]
    rows = [["overall"] + [fmt(metrics.get(n)) for n in names]]
    for h in horizons:
        label = f"step {h}" + (f" ({h * minutes} min)" if minutes else "")
        rows.append([label] + [fmt(metrics.get(horizon_key(n, h))) for n in names])
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in [header] + rows]
    return "\n".join(lines)
