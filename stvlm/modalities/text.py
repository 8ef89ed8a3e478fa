"""The text modality: one prompt per window, tokenised once into a table.

:func:`build_prompts` writes, for every window start, the sentences (in this order; the ones
marked with a flag are toggled by :class:`~stvlm.configs.TextConfig`). The sentences that
change from window to window come first, so a short token limit cuts the fixed ones first; at
ViLT's 40 tokens the full style keeps the statistics and part of the time sentence (the compact
style, the default, keeps its whole prompt on los-loop, nycbike-drop and nycbike1; sz-taxi's
loses its last two tokens, the end of the dataset's name: :func:`_compact_prompts`):

1. ``include_stats``: min, max, median and trend of the value channel averaged over the
   observed nodes (finite, and not the dataset's missing-value marker; steps with none are
   skipped), in original units rounded to ``stat_decimals``; the trend is the sign of the sum
   of differences over the observed steps, rounded (``"flat"`` when it rounds to 0);
2. ``include_time``: start and end of the window as ``"Tuesday 08:30"`` (from timestamps, else
   from time-of-day / day-of-week) and the step interval (UrbanGPT style);
3. ``include_side``: per-step side information at the last input step (the majority class over
   nodes, e.g. ``"Weather class 2 ..."``: class names are not in the source files) and the most
   common classes of per-node side information (e.g. POI);
4. the task: ``"Forecast the next 12 steps (60 min) from the past 12 steps."``;
5. what the image shows (the encoder's ``description``);
6. the dataset, in one sentence (the first of ``info.description``).

:class:`TokenTable` tokenises the distinct prompts once and answers ``lookup(start)`` with a
dense start -> row index, so the tokenizer never runs inside a training step. Prompts are
truncated at the end to ``max_length`` tokens (the first sentences survive). The table is built
once from the series: a training window rescaled by ``TrainConfig.augment_scale`` keeps the text
of the window as it is.

Cost in the number of nodes N: linear. The statistics average the ``[T, N]`` value channel
over nodes once (O(T N)); per-step side information takes the majority over nodes one class at
a time (O(W N) memory per class); the prompt's length does not depend on N.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
import numpy as np
import torch

from stvlm.data.series import SpatioTemporalData
from stvlm.errors import ConfigError, DataError
from stvlm.configs import TextConfig

logger = logging.getLogger(__name__)

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EPOCH_DOW = 3  # 1970-01-01 was a Thursday
_TOP_CLASSES = 3  # how many per-node classes the side sentence lists
_SIDE_LABELS = {"poi": "POI", "weather": "weather"}  # display names of side-information keys


def first_sentence(text: str) -> str:
    """The first sentence of ``text`` (whitespace collapsed)."""
    text = " ".join(text.split())
    match = re.search(r"(?<=[.!?])\s", text)
    return text[: match.start()] if match else text


def _fmt(value: float, decimals: int) -> str:
    return f"{np.round(value, decimals) + 0.0:.{decimals}f}"  # + 0.0 turns -0.0 into 0.0


def _clock(dow: np.ndarray, minute: np.ndarray) -> list[str]:
    return [f"{DAYS[d]} {m // 60:02d}:{m % 60:02d}" for d, m in zip(dow.tolist(), minute.tolist())]


def _day_minute(data: SpatioTemporalData, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Day of week and minute of day of the given steps, ``[W]`` each."""
    if data.timestamps is not None:
        ts = data.timestamps[steps].astype("datetime64[m]")
        day = ts.astype("datetime64[D]")
        minute = (ts - day).astype("timedelta64[m]").astype(np.int64)
        return (day.astype(np.int64) + _EPOCH_DOW) % 7, minute
    minute = data.tod[steps].astype(np.int64) * data.info.interval_minutes
    return data.dow[steps].astype(np.int64), minute


def _node_mean(data: SpatioTemporalData) -> np.ndarray:
    """Value channel averaged over the observed nodes, ``[T]`` (NaN where nothing is observed).

    Observed: finite, and not the dataset's missing-value marker where it has one. A NaN or Inf
    entry (allowed in a bring-your-own ``values.npy``) is left out, not spread over its step."""
    v = data.values[:, :, 0].astype(np.float64)  # [T, N]
    seen = np.isfinite(v)  # [T, N]
    if data.info.missing_value is not None:
        seen &= v != data.info.missing_value
    count = seen.sum(axis=1)
    total = np.where(seen, v, 0.0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _stats_sentences(data: SpatioTemporalData, starts: np.ndarray, input_len: int,
                     decimals: int) -> list[str]:
    win = _node_mean(data)[starts[:, None] + np.arange(input_len)]  # [W, T_in]
    valid = ~np.isnan(win)  # [W, T_in]
    seen = valid.any(axis=1)  # [W]
    safe = np.where(seen[:, None], win, 0.0)  # [W, T_in], all-missing windows zeroed
    lo, hi = np.nanmin(safe, axis=1), np.nanmax(safe, axis=1)
    med = np.nanmedian(safe, axis=1)
    # Sum of the differences over the observed steps = last observed - first observed.
    first = valid.argmax(axis=1)  # [W]
    last = input_len - 1 - valid[:, ::-1].argmax(axis=1)  # [W]
    rows = np.arange(len(starts))
    delta = np.round(safe[rows, last] - safe[rows, first], decimals)  # [W]
    trend = np.where(delta > 0, "upward", np.where(delta < 0, "downward", "flat"))
    name, unit = data.info.channels[0], data.info.units[0]
    head = f"{name[0].upper()}{name[1:]} in the window (mean over nodes, {unit}):"
    return [
        f"{head} min {_fmt(a, decimals)}, max {_fmt(b, decimals)}, median {_fmt(c, decimals)}, "
        f"trend {t}." if ok else f"{head} no observations."
        for a, b, c, t, ok in zip(lo, hi, med, trend, seen)
    ]


def _time_sentences(data: SpatioTemporalData, starts: np.ndarray, input_len: int) -> list[str]:
    first = _clock(*_day_minute(data, starts))
    last = _clock(*_day_minute(data, starts + input_len - 1))
    every = data.info.interval_minutes
    return [
        f"The window runs from {a} to {b} at {every}-minute intervals."
        for a, b in zip(first, last)
    ]


def _is_classes(arr: np.ndarray) -> bool:
    return np.issubdtype(arr.dtype, np.integer) or bool(np.all(arr == np.round(arr)))


def _side_sentences(data: SpatioTemporalData, ends: np.ndarray) -> list[list[str]]:
    """Per window, the side-information sentences (per-step keys first, then per-node)."""
    per_window: list[list[str]] = [[] for _ in range(len(ends))]
    for key in sorted(data.step_side):
        label = _SIDE_LABELS.get(key, key.replace("_", " "))
        at = np.asarray(data.step_side[key])[ends]  # [W] or [W, N]
        if _is_classes(at):
            at = at.astype(np.int64)
            if at.ndim == 2:  # majority class over nodes, ties -> the smallest class
                classes = np.unique(at)
                # one class at a time: [W, N] booleans, not [W, N, K]
                counts = np.stack([(at == k).sum(axis=1) for k in classes], axis=1)  # [W, K]
                at = classes[counts.argmax(axis=1)]
            texts = [f"{label.capitalize()} class {k} at the last input step." for k in at.tolist()]
        else:
            at = at.reshape(len(ends), -1).mean(axis=1)
            texts = [f"{label.capitalize()} {v:.1f} at the last input step." for v in at.tolist()]
        for sentences, text in zip(per_window, texts):
            sentences.append(text)
    for key in sorted(data.node_side):
        arr = np.asarray(data.node_side[key]).reshape(-1)
        if not _is_classes(arr):
            continue
        classes, counts = np.unique(arr.astype(np.int64), return_counts=True)
        top = np.argsort(-counts, kind="stable")[:_TOP_CLASSES]
        label = _SIDE_LABELS.get(key, key.replace("_", " "))
        listed = ", ".join(
            f"{classes[i]} ({counts[i]} node{'s' if counts[i] != 1 else ''})" for i in top
        )
        for sentences in per_window:
            sentences.append(f"Most common {label} classes: {listed}.")
    return per_window


def build_prompts(
    data: SpatioTemporalData,
    starts: np.ndarray,
    *,
    input_len: int,
    output_len: int,
    image_description: str,
    cfg: TextConfig,
) -> list[str]:
    """One prompt per window start (see the module docstring for the sentences).

    Args:
        data: the dataset (values in original units).
        starts: ``[W]`` first input step of each window.
        input_len: T_in.
        output_len: T_out.
        image_description: the image encoder's description ("" to leave it out).
        cfg: which parts to include and the rounding of the statistics.

    Returns:
        ``W`` prompts.
    """
    starts = np.asarray(starts, dtype=np.int64).reshape(-1)
    if input_len < 1 or output_len < 1:
        raise ConfigError(
            f"input_len = {input_len}, output_len = {output_len} are not allowed; expected >= 1"
        )
    if starts.size and (starts.min() < 0 or starts.max() + input_len > data.num_steps):
        bad = int(starts.min() if starts.min() < 0 else starts.max())
        raise DataError(
            f"window start {bad} with input_len {input_len} is outside the {data.num_steps} "
            f"steps of dataset {data.info.name!r}; allowed: 0 .. {data.num_steps - input_len}"
        )
    if cfg.style == "compact":
        return _compact_prompts(data, starts, input_len, output_len, cfg)
    minutes = output_len * data.info.interval_minutes
    # Window-specific sentences come first: short backbone limits (ViLT: 40 tokens) truncate
    # the tail, and the fixed sentences are the same for every window.
    fixed = [f"Forecast the next {output_len} steps ({minutes} min) from the past {input_len} steps."]
    fixed += [s for s in (image_description.strip(), first_sentence(data.info.description)) if s]
    columns: list[list[str]] = []
    if cfg.include_stats:
        columns.append(_stats_sentences(data, starts, input_len, cfg.stat_decimals))
    if cfg.include_time:
        columns.append(_time_sentences(data, starts, input_len))
    side = [[] for _ in starts]
    if cfg.include_side:
        side = _side_sentences(data, starts + input_len - 1)
    tail = " ".join(fixed)
    return [" ".join([*(col[i] for col in columns), *side[i], tail]) for i in range(len(starts))]


def short_name(data: SpatioTemporalData) -> str:
    """The dataset's short name: its title up to the first colon (``"NYCBike drop-off"``)."""
    return data.info.title.split(":")[0].strip()


def _compact_prompts(
    data: SpatioTemporalData, starts: np.ndarray, input_len: int, output_len: int, cfg: TextConfig
) -> list[str]:
    """Short prompts, most informative first: window time, statistics, side information and
    the dataset's short name (the same for every window, so a cut there loses least). The task
    sentence of the full style is left out: it is the same for every window of a run.

    Example: ``"Wednesday 07:00-12:30. Dropoff 0.6-2.9, median 1.1, upward. NYCBike drop-off."``
    """
    columns: list[list[str]] = []
    if cfg.include_time:
        first = _clock(*_day_minute(data, starts))
        last = [c.split(" ")[1] for c in _clock(*_day_minute(data, starts + input_len - 1))]
        columns.append([f"{a}-{b}." for a, b in zip(first, last)])
    if cfg.include_stats:
        columns.append(_compact_stats(data, starts, input_len, cfg.stat_decimals))
    side = _side_sentences(data, starts + input_len - 1) if cfg.include_side else [[] for _ in starts]
    side = [[s.replace(" at the last input step", "") for s in row if not s.startswith("Most common")]
            for row in side]
    tail = f"{short_name(data)}."  # constant: the first thing a short limit may cut
    return [" ".join([*(col[i] for col in columns), *side[i], tail]) for i in range(len(starts))]


def _compact_stats(data: SpatioTemporalData, starts: np.ndarray, input_len: int, decimals: int) -> list[str]:
    """``"Dropoff 0.6-2.9, median 1.1, upward."`` from the full statistics sentence."""
    name = data.info.channels[0]
    out = []
    for sentence in _stats_sentences(data, starts, input_len, decimals):
        if sentence.endswith("no observations."):
            out.append(f"{name[0].upper()}{name[1:]}: no observations.")
            continue
        stats = sentence.split(":", 1)[1]  # " min a, max b, median c, trend t."
        lo, hi, med, trend = (part.strip().split(" ")[-1] for part in stats.split(","))
        out.append(f"{name[0].upper()}{name[1:]} {lo}-{hi}, median {med}, {trend}")
    return out


@dataclass(frozen=True, eq=False)
class TokenTable:
    """Token ids of the distinct prompts and a dense window-start -> row index.

    Args:
        ids: ``[U, L]`` int64 token ids of the U distinct prompts (padded to L = max_length).
        mask: ``[U, L]`` int64 attention mask.
        row_of_start: ``[max_start + 1]`` int64 row of each window start, -1 where none starts.
        num_truncated: how many distinct prompts were cut to ``L`` tokens.
    """

    ids: torch.Tensor
    mask: torch.Tensor
    row_of_start: torch.Tensor
    num_truncated: int = 0

    @classmethod
    def build(
        cls, tokenizer, prompts: list[str], starts: np.ndarray, max_length: int
    ) -> TokenTable:
        """Tokenise each distinct prompt once (padding to ``max_length``, truncation).

        Args:
            tokenizer: a Hugging Face tokenizer with a pad token.
            prompts: ``W`` prompts, ``prompts[i]`` for window ``starts[i]``.
            starts: ``[W]`` window starts (a start may repeat only with the same prompt).
            max_length: L.
        """
        starts = np.asarray(starts, dtype=np.int64).reshape(-1)
        if len(prompts) != len(starts) or not len(starts):
            raise ConfigError(
                f"TokenTable needs one prompt per window start and at least one; got "
                f"{len(prompts)} prompts for {len(starts)} starts"
            )
        if max_length < 1 or starts.min() < 0:
            raise ConfigError(
                f"max_length = {max_length}, smallest start = {starts.min()} are not allowed; "
                "expected max_length >= 1 and starts >= 0"
            )
        if getattr(tokenizer, "pad_token", None) is None:
            raise ConfigError(
                f"tokenizer {type(tokenizer).__name__} has no pad token; set tokenizer.pad_token "
                "(e.g. to its eos token) before building the TokenTable"
            )
        unique: dict[str, int] = {}
        rows = np.array([unique.setdefault(p, len(unique)) for p in prompts], dtype=np.int64)
        texts = list(unique)
        enc = tokenizer(texts, padding="max_length", truncation=True, max_length=max_length,
                        return_tensors="pt")
        # One token past the limit tells a cut prompt; an uncapped call would make the tokenizer
        # warn about sequences longer than the model's maximum (noise: they are cut above).
        over = tokenizer(texts, truncation=True, max_length=max_length + 1)["input_ids"]
        truncated = sum(len(t) > max_length for t in over)
        if truncated:
            logger.warning("%d of %d distinct prompts were truncated to max_length=%d tokens",
                           truncated, len(texts), max_length)
        index = np.full(int(starts.max()) + 1, -1, dtype=np.int64)
        index[starts] = rows
        if not np.array_equal(index[starts], rows):
            raise DataError("TokenTable got the same window start with different prompts")
        return cls(
            ids=enc["input_ids"].to(torch.int64),
            mask=enc["attention_mask"].to(torch.int64),
            row_of_start=torch.from_numpy(index),
            num_truncated=truncated,
        )

    @property
    def num_unique(self) -> int:
        """U: number of distinct prompts (= tokenizer calls saved per epoch)."""
        return int(self.ids.shape[0])

    @property
    def max_length(self) -> int:
        return int(self.ids.shape[1])

    def lookup(self, start: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids and mask of a batch of windows, on ``start``'s device (one sync to check).

        Args:
            start: ``[B]`` int64 window starts.

        Returns:
            ``(ids [B, L], mask [B, L])``.
        """
        idx = start.to(self.row_of_start.device, torch.int64)
        size = self.row_of_start.numel()
        rows = self.row_of_start[idx.clamp(0, size - 1)]  # [B]
        bad = (idx < 0) | (idx >= size) | (rows < 0)  # [B]
        if bool(bad.any()):
            first = int(idx[bad][0])
            raise DataError(
                f"TokenTable has no prompt for window start {first}; it holds "
                f"{int((self.row_of_start >= 0).sum())} window starts in 0 .. {size - 1}"
            )
        return self.ids[rows].to(start.device), self.mask[rows].to(start.device)

    def to(self, device: torch.device | str) -> TokenTable:
        """The same table with its tensors on ``device``."""
        return TokenTable(
            ids=self.ids.to(device),
            mask=self.mask.to(device),
            row_of_start=self.row_of_start.to(device),
            num_truncated=self.num_truncated,
        )
