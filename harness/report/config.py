"""Options of a comparison report (every number the report code uses comes from here)."""

from __future__ import annotations

from typing import Literal

from stvlm.configs import Config, config_class, field


@config_class
class ReportConfig(Config):
    """How ``stvlm report`` aggregates, tests and draws.

    Attributes:
        metric: metric that ranks configurations on validation (``val_<metric>``) and that the
            figures plot on test; ``None`` takes the study spec's ``metric`` (else ``"mae"``).
        level: confidence level of the seed-noise intervals (Welch / one-sample t).
        dpi: resolution of the PNG figures.
        figure_width: width of one figure panel in inches.
        figure_height: height of one figure panel in inches.
        markdown_digits: decimals shown in Markdown/HTML tables (CSV files keep full precision).
        embed: how figures are embedded in the HTML file (base64 PNG or inline SVG).
    """

    metric: str | None = field(None, help="ranking/plotting metric; None = the study's metric")
    level: float = field(0.95, gt=0.5, lt=1.0, help="confidence level of seed-noise intervals")
    dpi: int = field(120, ge=50, le=600, help="PNG resolution")
    figure_width: float = field(6.4, gt=1.0, le=30.0, help="panel width, inches")
    figure_height: float = field(4.0, gt=1.0, le=30.0, help="panel height, inches")
    markdown_digits: int = field(4, ge=1, le=12, help="decimals in Markdown/HTML tables")
    embed: Literal["png", "svg"] = field("png", help="figure format embedded in report.html")
