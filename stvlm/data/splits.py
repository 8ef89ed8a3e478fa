"""Chronological train / validation / test splits of window starts, one rule per protocol family.

Each rule in :data:`WINDOW_RULES` turns a protocol and a series length into a
:class:`WindowSplits`; ``Protocol.window_rule`` names the rule. Every part is an increasing
``int64`` array of window starts, parts never share a window, and train < val < test in time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from stvlm.data.windows import window_starts
from stvlm.errors import ConfigError, ProtocolError
from stvlm.registry import Registry

if TYPE_CHECKING:
    from stvlm.data.protocols import Protocol

PARTS = ("train", "train_full", "val", "test")


@dataclass(frozen=True)
class WindowSplits:
    """Window starts of each part.

    Args:
        train: ``[W_train]`` starts the model trains on (after few-shot selection).
        train_full: ``[W_full]`` the training windows the few-shot selection draws from: every
            training window as :func:`split_windows` returns them, narrowed by
            :func:`stvlm.data.pipeline.prepare_forecast` to those with their whole periodic
            lookback (the scaler is fitted on the steps of the whole training part).
        val: ``[W_val]`` validation starts.
        test: ``[W_test]`` test starts.
    """

    train: np.ndarray
    train_full: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def part(self, name: str) -> np.ndarray:
        """The starts of part ``name`` (one of ``train``, ``train_full``, ``val``, ``test``)."""
        if name not in PARTS:
            raise ConfigError(f"part = {name!r} is not allowed; expected one of {', '.join(PARTS)}")
        return getattr(self, name)

    def counts(self) -> dict[str, int]:
        """Number of windows per part."""
        return {name: int(self.part(name).size) for name in PARTS}


WINDOW_RULES: Registry = Registry("window rule")


def split_windows(
    protocol: Protocol, num_steps: int, *, dataset: str, test_target_start: int | None = None
) -> WindowSplits:
    """Split the windows of a series by the protocol's rule.

    Args:
        protocol: the evaluation protocol.
        num_steps: length T of the series.
        dataset: dataset name, for error messages.
        test_target_start: first published test target step (partial datasets), else ``None``.

    Returns:
        The parts, with ``train`` equal to ``train_full``.

    Raises:
        ProtocolError: a part would hold no window.
    """
    rule = WINDOW_RULES.get(protocol.window_rule)
    return rule(protocol, num_steps, dataset=dataset, test_target_start=test_target_start)


def _checked(
    protocol: Protocol, dataset: str, train: np.ndarray, val: np.ndarray, test: np.ndarray, why: str
) -> WindowSplits:
    counts = {"train": train.size, "val": val.size, "test": test.size}
    empty = [part for part, n in counts.items() if n < 1]
    if empty:
        raise ProtocolError(
            f"protocol {protocol.name!r} on dataset {dataset!r}: the {'/'.join(empty)} part holds "
            f"no window of {protocol.input_len}+{protocol.output_len} steps "
            f"(train/val/test = {counts['train']}/{counts['val']}/{counts['test']}; {why})"
        )
    return WindowSplits(train=train, train_full=train, val=val, test=test)


@WINDOW_RULES.register("standard")
def standard_split(
    protocol: Protocol, num_steps: int, *, dataset: str, test_target_start: int | None = None
) -> WindowSplits:
    """All windows over the series, split chronologically (DCRNN ``generate_training_data``).

    With ``W`` windows: ``num_test = round(W * test)``, ``num_train = round(W * train)`` (Python's
    half-to-even ``round``, as DCRNN), ``num_val = W - num_train - num_test``. For partial datasets
    the test part is exactly the windows whose targets start at or after ``test_target_start``
    (starts >= ``test_target_start - input_len``) and the earlier windows are split by
    ``train / (train + val)`` (6:2 -> 3:1).
    """
    train_r, val_r, test_r = protocol.split
    starts = window_starts(num_steps, protocol.input_len, protocol.output_len)
    if test_target_start is None:
        n = starts.size
        num_test, num_train = round(n * test_r), round(n * train_r)
        num_val = max(n - num_train - num_test, 0)
        why = f"{n} windows over {num_steps} steps split {train_r:g}:{val_r:g}:{test_r:g}"
    else:
        first_test = test_target_start - protocol.input_len  # first test window start
        test_mask = starts >= first_test
        n = int((~test_mask).sum())  # pre-test windows, split train:val
        num_train = round(n * train_r / (train_r + val_r)) if train_r + val_r > 0 else 0
        num_val, num_test = n - num_train, int(test_mask.sum())
        why = (
            f"{n} windows before the published test windows (targets from step "
            f"{test_target_start}) split "
            f"{train_r:g}:{val_r:g}, {num_test} test windows over {num_steps} steps"
        )
    train = starts[:num_train]
    val = starts[num_train : num_train + num_val]
    test = starts[num_train + num_val :]
    return _checked(protocol, dataset, train, val, test, why)


@WINDOW_RULES.register("tgcn")
def tgcn_split(
    protocol: Protocol, num_steps: int, *, dataset: str, test_target_start: int | None = None
) -> WindowSplits:
    """T-GCN's ``preprocess_data``: split the steps, then form windows inside each part.

    ``train_size = int(T * train)``; a part of ``L`` steps yields ``L - seq_len - pre_len``
    windows (T-GCN's ``range(len(data) - seq_len - pre_len)``, which leaves out the last window
    that would fit). The last ``round(W_train * val_from_train)`` training windows become the
    validation part. ``test_target_start`` is ignored (T-GCN's datasets are complete series).
    """
    seq_len, pre_len = protocol.input_len, protocol.output_len
    train_size = int(num_steps * protocol.split[0])
    n_train = max(train_size - seq_len - pre_len, 0)
    n_test = max(num_steps - train_size - seq_len - pre_len, 0)
    part_starts = np.arange(n_train, dtype=np.int64)
    num_val = round(n_train * protocol.val_from_train)
    train, val = part_starts[: n_train - num_val], part_starts[n_train - num_val :]
    test = train_size + np.arange(n_test, dtype=np.int64)
    why = (
        f"{train_size} training steps and {num_steps - train_size} test steps, "
        f"last {protocol.val_from_train:g} of the training windows for validation"
    )
    return _checked(protocol, dataset, train, val, test, why)
