"""From a loaded series to batches: splits, few-shot selection, scaling and window gathering.

``prepare(DataConfig)`` loads a dataset and applies its protocol; ``prepare_forecast`` does the
same from an in-memory :class:`~stvlm.data.series.SpatioTemporalData`. The resulting
:class:`ForecastData` keeps the series once, scaled once, and serves every part as batches
gathered by tensor indexing on the target device (no per-sample Python loop, no DataLoader).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from stvlm.configs import DataConfig, FewShotConfig
from stvlm.data.batch import STBatch
from stvlm.data.fewshot import select_few_shot
from stvlm.data.missing import fill_forward
from stvlm.data.protocols import Protocol, resolve_protocol
from stvlm.data.scalers import SCALERS, StandardScaler
from stvlm.data.series import SpatioTemporalData
from stvlm.data.splits import PARTS, WindowSplits, split_windows
from stvlm.data.windows import covered_steps, gather_windows
from stvlm.errors import ConfigError

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class _DeviceSeries:
    """The series as tensors on one device."""

    x: torch.Tensor  # [T, N, C] scaled float32
    y: torch.Tensor  # [T, N, C_out] original units float32
    tod: torch.Tensor  # [T] int64
    dow: torch.Tensor  # [T] int64
    target_scaled: torch.Tensor  # [T, N, C_out] scaled target channels (the lookback source)


class ForecastData:
    """A dataset under a protocol: its splits, scaler and batches.

    Args:
        data: the loaded series.
        protocol: the evaluation protocol.
        scaler: fitted on the steps of the full training part only.
        splits: window starts per part (``train`` after few-shot selection).
        few_shot: the few-shot selection that produced ``splits.train``.
        lookback_lags: periodic lookback lags in steps (each >= ``T_out``); every window of
            every part must have them inside the series.

    Attributes:
        filled_values: ``[T, N, C]`` the series as models read it (original units): NaN
            entries replaced by :func:`~stvlm.data.missing.fill_forward`. Inputs, lookback and
            the naive baselines come from it; :meth:`targets` and ``STBatch.y`` keep NaN.
    """

    def __init__(
        self,
        *,
        data: SpatioTemporalData,
        protocol: Protocol,
        scaler: StandardScaler,
        splits: WindowSplits,
        few_shot: FewShotConfig,
        lookback_lags: tuple[int, ...] = (),
    ) -> None:
        self.data = data
        self.protocol = protocol
        self.scaler = scaler
        self.splits = splits
        self.few_shot = few_shot
        self.lookback_lags = tuple(int(lag) for lag in lookback_lags)
        self.target_channels = tuple(data.info.target_channels)
        bad = [c for c in self.target_channels if not 0 <= c < data.num_channels]
        if bad:
            raise ConfigError(
                f"dataset {data.info.name!r}: target_channels {self.target_channels} must lie in "
                f"[0, {data.num_channels})"
            )
        _check_lookback(self.lookback_lags, splits, protocol, data.info.name)
        # What models read: NaN entries carried forward (the training mean before the first
        # finite value); targets keep their NaN, so metrics and losses leave them out.
        self.filled_values = fill_forward(data.values, scaler.mean)  # [T, N, C] original units
        # Computed once; every batch on every device is gathered from these.
        self._scaled = np.asarray(scaler.transform(self.filled_values), dtype=np.float32)  # [T, N, C]
        self._raw_targets = np.ascontiguousarray(
            data.values[..., list(self.target_channels)], dtype=np.float32
        )  # [T, N, C_out]
        self._on_device: dict[torch.device, _DeviceSeries] = {}

    @property
    def input_len(self) -> int:
        return self.protocol.input_len

    @property
    def output_len(self) -> int:
        return self.protocol.output_len

    def num_windows(self, part: str) -> int:
        """Number of windows in ``part`` (``train``, ``train_full``, ``val`` or ``test``)."""
        return int(self.splits.part(part).size)

    def targets(self, part: str) -> np.ndarray:
        """Targets of every window of ``part``, in window order.

        Returns:
            ``[W, T_out, N, C_out]`` float32 in original units.
        """
        starts = self.splits.part(part)
        return gather_windows(self._raw_targets, starts, self.output_len, offset=self.input_len)

    def gather(self, part: str, pred: np.ndarray) -> np.ndarray:
        """``pred [W, T_out, N, C_out]``, unchanged: one process predicts every window (a
        data-parallel view, ``harness.runtime.sharding.ShardedForecast``, collects its ranks')."""
        return pred

    def _series_on(self, device: torch.device) -> _DeviceSeries:
        if device not in self._on_device:
            self._on_device[device] = _DeviceSeries(
                x=torch.from_numpy(self._scaled).to(device),
                y=torch.from_numpy(self._raw_targets).to(device),
                tod=torch.as_tensor(self.data.tod, dtype=torch.int64).to(device),
                dow=torch.as_tensor(self.data.dow, dtype=torch.int64).to(device),
                target_scaled=torch.from_numpy(
                    np.ascontiguousarray(self._scaled[..., list(self.target_channels)])
                ).to(device),
            )
        return self._on_device[device]

    def batches(
        self,
        part: str,
        batch_size: int,
        *,
        shuffle: bool = False,
        seed: int = 0,
        device: str | torch.device = "cpu",
        drop_last: bool = False,
    ) -> Iterator[STBatch]:
        """Batches of the windows of ``part``, gathered on ``device``.

        Args:
            part: ``train``, ``train_full``, ``val`` or ``test``.
            batch_size: windows per batch (the last one may be smaller unless ``drop_last``).
            shuffle: visit the windows in a random order drawn from a CPU ``torch.Generator``
                seeded with ``seed`` (same seed, same order, on every device).
            seed: shuffle seed (e.g. base seed + epoch).
            device: where the series lives and the batches are built.
            drop_last: skip a final batch smaller than ``batch_size``.

        Yields:
            :class:`STBatch` with ``x [B, T_in, N, C]`` scaled, ``y [B, T_out, N, C_out]`` in
            original units and, with lookback lags, ``lookback [B, P, T_in + T_out, N, C_out]``.
        """
        if batch_size < 1:
            raise ConfigError(f"batch_size = {batch_size} is out of range; allowed: >= 1")
        dev = torch.device(device)
        series = self._series_on(dev)
        starts = torch.from_numpy(self.splits.part(part)).to(dev)  # [W]
        if shuffle:
            order = torch.randperm(starts.numel(), generator=torch.Generator().manual_seed(seed))
            starts = starts[order.to(dev)]
        in_offsets = torch.arange(self.input_len, device=dev)  # [T_in]
        out_offsets = torch.arange(self.input_len, self.input_len + self.output_len, device=dev)
        all_offsets = torch.arange(self.input_len + self.output_len, device=dev)  # [T_in + T_out]
        lags = torch.tensor(self.lookback_lags, dtype=torch.int64, device=dev)  # [P]
        for first in range(0, starts.numel(), batch_size):
            s = starts[first : first + batch_size]  # [B]
            if drop_last and s.numel() < batch_size:
                return
            x_idx = s[:, None] + in_offsets  # [B, T_in]
            y_idx = s[:, None] + out_offsets  # [B, T_out]
            lookback = None
            if lags.numel():
                lag_idx = s[:, None, None] + all_offsets[None, None, :] - lags[None, :, None]
                lookback = series.target_scaled[lag_idx]  # [B, P, T_in + T_out, N, C_out]
            yield STBatch(
                x=series.x[x_idx],  # [B, T_in, N, C]
                y=series.y[y_idx],  # [B, T_out, N, C_out]
                x_tod=series.tod[x_idx],
                x_dow=series.dow[x_idx],
                y_tod=series.tod[y_idx],
                y_dow=series.dow[y_idx],
                start=s,
                lookback=lookback,
            )

    def describe(self) -> dict[str, Any]:
        """Provenance record: dataset, protocol, few-shot label, counts and step ranges per part."""
        parts: dict[str, Any] = {}
        for part in PARTS:
            starts = self.splits.part(part)
            first, stop = covered_steps(starts, self.input_len, self.output_len)
            parts[part] = {
                "windows": int(starts.size),
                "first_start": int(starts[0]),
                "last_start": int(starts[-1]),
                "steps": [first, stop],
            }
        return {
            "dataset": self.data.info.name,
            "protocol": self.protocol.name,
            "protocol_config": self.protocol.to_dict(),
            "few_shot": self.few_shot.label,
            "few_shot_config": self.few_shot.to_dict(),
            "num_steps": self.data.num_steps,
            "num_nodes": self.data.num_nodes,
            "target_channels": list(self.target_channels),
            "windows": self.splits.counts(),
            "lookback_lags": list(self.lookback_lags),
            "parts": parts,
            "scaler": self.scaler.to_dict(),
        }


def lookback_lags(protocol: Protocol, steps_per_day: int, splits: WindowSplits) -> tuple[int, ...]:
    """The protocol's periodic lookback lags (in steps) that fit this series.

    A lag of ``d`` days is ``d * steps_per_day`` steps. It is kept when it is at least ``T_out``
    (so the lagged copy of a target step is never a target step of the same window) and every
    validation and test window has it inside the series (``lag <= first validation start``);
    otherwise it is left out (e.g. one week on a one-week series) and ``describe()`` lists the
    lags that were kept.
    """
    first_eval = int(min(splits.val.min(), splits.test.min()))
    kept = []
    for days in protocol.lookback_days:
        lag = days * steps_per_day
        if lag >= protocol.output_len and lag <= first_eval:
            kept.append(lag)
        else:
            logger.info("lookback of %d day(s) = %d steps does not fit; left out", days, lag)
    return tuple(sorted(set(kept)))


def _check_lookback(
    lags: tuple[int, ...], splits: WindowSplits, protocol: Protocol, dataset: str
) -> None:
    """Every lag is >= T_out and every window of every part has its lookback in the series."""
    if not lags:
        return
    if min(lags) < protocol.output_len:
        raise ConfigError(
            f"lookback lag {min(lags)} steps is shorter than output_len = {protocol.output_len}: "
            "it would read a target step of the same window"
        )
    for part in PARTS:
        starts = splits.part(part)
        if starts.size and int(starts.min()) < max(lags):
            raise ConfigError(
                f"dataset {dataset!r}: the {part} part starts at step {int(starts.min())}, before "
                f"the longest lookback ({max(lags)} steps) is available"
            )


def prepare_forecast(
    data: SpatioTemporalData, protocol: Protocol, few_shot: FewShotConfig | None = None
) -> ForecastData:
    """Apply a protocol and a few-shot selection to an in-memory series.

    Training windows must have their periodic lookback: the training pool is the training part's
    windows that start at or after the longest kept lag, and the few-shot block is chosen in it
    (its budget counts windows of the whole training part). The scaler is fitted on every step
    of the training part (the lookback history included, before few-shot selection), so every
    few-shot budget sees the same scaling.

    Args:
        data: the series (any length, e.g. a tiny hand-made one).
        protocol: the evaluation protocol.
        few_shot: the training-window selection; default: all training windows.

    Raises:
        ProtocolError: a split part would hold no window.
    """
    few_shot = few_shot or FewShotConfig()
    splits = split_windows(
        protocol, data.num_steps, dataset=data.info.name, test_target_start=data.test_target_start
    )
    first, stop = covered_steps(splits.train_full, protocol.input_len, protocol.output_len)
    lags = lookback_lags(protocol, data.info.steps_per_day, splits)
    pool = splits.train_full[splits.train_full >= (max(lags) if lags else 0)]
    train = select_few_shot(pool, few_shot, total=splits.train_full.size, dataset=data.info.name)
    splits = dataclasses.replace(splits, train=train, train_full=pool)
    scaler = SCALERS.get(protocol.scaler).fit(data.values, first, stop)
    forecast = ForecastData(
        data=data, protocol=protocol, scaler=scaler, splits=splits, few_shot=few_shot,
        lookback_lags=lags,
    )
    logger.info(
        "%s / %s / %s: windows %s, lookback lags %s",
        data.info.name,
        protocol.name,
        few_shot.label,
        splits.counts(),
        lags,
    )
    return forecast


def prepare(data_cfg: DataConfig) -> ForecastData:
    """Load ``data_cfg.dataset`` from the data root and apply its protocol and few-shot selection.

    Args:
        data_cfg: dataset name, data root (default ``$STVLM_DATA``), protocol (its periodic
            lookback replaced by ``data_cfg.lookback_days`` when set), few-shot, verify.

    Raises:
        DataError: the dataset files are missing or corrupt.
        ProtocolError: the protocol does not fit the dataset.
    """
    # Imported lazily: the pipeline (and its tests) must work from in-memory series without the
    # loaders and their file readers.
    from stvlm.data.datasets import load_dataset
    from stvlm.data.root import resolve_data_root

    root = resolve_data_root(data_cfg.data_root)
    data = load_dataset(data_cfg.dataset, root, verify=data_cfg.verify)
    protocol = resolve_protocol(
        data_cfg.protocol, data.info, data.num_steps, test_target_start=data.test_target_start
    )
    if data_cfg.lookback_days is not None:  # the run's own periodic lookback
        days = ", ".join(map(str, data_cfg.lookback_days)) or "none"
        protocol = protocol.replace(
            lookback_days=data_cfg.lookback_days,
            description=f"{protocol.description} This run's periodic lookback, in days: {days}.",
        )
    return prepare_forecast(data, protocol, data_cfg.few_shot)
