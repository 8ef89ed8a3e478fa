"""Progress bars for long work: training epochs, prediction batches, downloads.

Bars are drawn by tqdm on stderr, so stdout keeps only results. By default a bar shows only
where stderr is a terminal (tqdm's ``disable=None``): logs, CI and Ray workers stay clean. Set
``STVLM_PROGRESS=1`` to force bars on (e.g. in a notebook or a log you tail), ``0`` to force
them off.
"""

from __future__ import annotations

import os
import sys
from typing import IO, Any

from tqdm.auto import tqdm

from stvlm.errors import ConfigError
from stvlm.monitor import monitor_value

PROGRESS_ENV = "STVLM_PROGRESS"


def progress_enabled() -> bool | None:
    """``True``/``False`` from ``$STVLM_PROGRESS``, else ``None`` (on where stderr is a terminal).

    Raises:
        ConfigError: ``$STVLM_PROGRESS`` is set to something else than 0 or 1.
    """
    raw = os.environ.get(PROGRESS_ENV, "").strip()
    if raw == "":
        return None
    if raw not in ("0", "1"):
        raise ConfigError(f"{PROGRESS_ENV} = {raw!r} is not allowed; allowed: 0 (no bars), 1 (bars)")
    return raw == "1"


def bar(total: int | None, desc: str, *, unit: str = "it", file: IO[str] | None = None,
        **kwargs: Any) -> tqdm:
    """A tqdm bar on stderr that follows :func:`progress_enabled`."""
    enabled = progress_enabled()
    return tqdm(total=total, desc=desc, unit=unit, file=file or sys.stderr,
                disable=None if enabled is None else not enabled, dynamic_ncols=True,
                leave=True, **kwargs)


class EpochBar:
    """An engine callback: one tick per epoch with the training loss and the validation metric.

    Args:
        epochs: the epoch budget (the bar's total; early stopping ends it sooner).
        monitor: the validation metric shown: the engine's ``TrainConfig.monitor`` (``"mae"``,
            ``"mae_both"``, ...; :func:`stvlm.monitor.monitor_value`).
        desc: the bar's label.
        file: where to draw (default stderr).
    """

    def __init__(self, epochs: int, monitor: str = "mae", desc: str = "train",
                 file: IO[str] | None = None) -> None:
        self.monitor = monitor
        self.bar = bar(epochs, desc, unit="epoch", file=file)

    def __call__(self, record: Any, state: Any) -> None:
        self.bar.set_postfix({
            "loss": f"{record.train_loss:.4f}",
            f"val_{self.monitor}": f"{monitor_value(record.val, self.monitor):.4f}",
            "best": f"{state.best_metric:.4f} @ {state.best_epoch}",
        }, refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()
