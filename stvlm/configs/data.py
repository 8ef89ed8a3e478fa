"""Configs of the data side of a run: the dataset, its protocol and the few-shot selection."""

from __future__ import annotations

import re
from typing import Literal

from stvlm.configs.base import Config, config_class, field


@config_class
class FewShotConfig(Config):
    """Which training windows a run may use.

    The budget counts training *target windows*: ``ratio`` of the training part's windows, or
    ``windows`` windows, or a named ``budget`` that matches a published few-shot setting (see
    :mod:`stvlm.data.budgets`). History before the selected block is periodic lookback, as
    seasonal-naive uses it; the block starts where the longest lookback is available.
    """

    ratio: float = field(1.0, gt=0.0, le=1.0, help="share of the training windows kept, in (0, 1]")
    windows: int | None = field(
        None, ge=1, help="keep exactly this many training windows (overrides ratio)"
    )
    budget: str | None = field(
        None, help="a named budget that matches a published setting, e.g. 'st-llm-10%' "
        "(overrides ratio and windows; see stvlm.data.budgets)"
    )
    method: Literal["first", "random"] = field(
        "first",
        help="'first': the first windows of the chronological training part that have their "
        "periodic lookback, contiguous (default, leak-free, STD-PLM); 'random': a seeded random "
        "subset of the same windows (Time-VLM; labelled in outputs)",
    )
    seed: int = field(0, ge=0, le=2**32 - 1, help="seed of the 'random' method")

    def check(self) -> None:
        if self.budget is not None and self.windows is not None:
            self.fail("windows", "cannot be set together with budget; give one of them")
        if self.ratio != 1.0 and (self.budget is not None or self.windows is not None):
            # ignored, yet it would part the run's hash from the same selection's without it
            given = "budget" if self.budget is not None else "windows"
            self.fail("ratio", f"cannot be set together with {given} (which overrides it); give one of them")

    @property
    def size_label(self) -> str:
        """The budget part of the label: ``"10%"``, ``"261w"`` or ``"st-llm-10%"``."""
        if self.budget is not None:
            return self.budget
        if self.windows is not None:
            return f"{self.windows}w"
        return f"{self.ratio * 100:g}%"

    @property
    def label(self) -> str:
        """How the selection is named in outputs: ``"first-10%"``, ``"random-10% (seed 0)"``,
        ``"first-261w"``, ``"first-st-llm-10%"``."""
        size = self.size_label
        return f"first-{size}" if self.method == "first" else f"random-{size} (seed {self.seed})"


def without_seed(label: str) -> str:
    """A :attr:`FewShotConfig.label` without a random selection's `` (seed N)``: the selection
    every seed of a study shares, ``"random-10% (seed 3)"`` -> ``"random-10%"``."""
    return re.sub(r" \(seed \d+\)$", "", label)


@config_class
class DataConfig(Config):
    """Dataset, protocol and few-shot selection of one run."""

    dataset: str = field("los-loop", help="registered dataset name (see `stvlm data list`)")
    data_root: str | None = field(
        None, help="folder with one sub-folder per dataset; default: $STVLM_DATA (where the data "
        "lives, not part of the experiment's identity)", identity=False,
    )
    protocol: str = field("standard", help="evaluation protocol name ('standard', 'tgcn')")
    few_shot: FewShotConfig = field(default_factory=FewShotConfig)
    verify: Literal["size", "sha256", "none"] = field(
        "sha256", help="how dataset files are checked before loading", identity=False
    )
    lookback_days: tuple[int, ...] | None = field(
        None, ge=1, identity="unless_default",
        help="periodic lookback: the target channels at the same time of day these many days "
        "before each input and target step, overriding the protocol's (standard and tgcn: 1 and "
        "7); [] for none. A lag the series cannot give every validation and test window is left "
        "out (the run's split facts list the lags kept); the few-shot block starts where the "
        "longest kept lag is available",
    )

    def check(self) -> None:
        days = self.lookback_days
        if days is not None and list(days) != sorted(set(days)):
            self.fail("lookback_days", "must be strictly increasing (each day once)")
