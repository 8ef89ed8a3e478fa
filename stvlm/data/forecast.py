"""``Forecast``: what models, baselines and the engine read from a prepared dataset.

:class:`stvlm.data.pipeline.ForecastData` is the implementation; a data-parallel run wraps it
(``harness.runtime.sharding.ShardedForecast``) and a test may hand-make one. Typing the seams with this
protocol instead of ``Any`` says what a model may rely on, and a type checker holds every
implementation to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np
    import torch

    from stvlm.configs import FewShotConfig
    from stvlm.data.batch import STBatch
    from stvlm.data.protocols import Protocol as EvalProtocol
    from stvlm.data.scalers import StandardScaler
    from stvlm.data.series import SpatioTemporalData
    from stvlm.data.splits import WindowSplits


class Forecast(Protocol):
    """A dataset under a protocol and a few-shot selection (see ``ForecastData``)."""

    data: SpatioTemporalData
    protocol: EvalProtocol
    scaler: StandardScaler
    splits: WindowSplits
    few_shot: FewShotConfig
    lookback_lags: tuple[int, ...]
    target_channels: tuple[int, ...]
    filled_values: np.ndarray

    @property
    def input_len(self) -> int: ...

    @property
    def output_len(self) -> int: ...

    def num_windows(self, part: str) -> int: ...

    def targets(self, part: str) -> np.ndarray: ...

    def batches(
        self, part: str, batch_size: int, *, shuffle: bool = False, seed: int = 0,
        device: str | torch.device = "cpu", drop_last: bool = False,
    ) -> Iterator[STBatch]: ...

    def gather(self, part: str, pred: np.ndarray) -> np.ndarray:
        """The predictions of every window of ``part`` from this process's ``batches(part)``
        predictions (the identity, except for a data-parallel rank's view)."""
        ...

    def describe(self) -> dict[str, Any]: ...
