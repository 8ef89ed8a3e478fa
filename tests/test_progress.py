"""Progress bars: where they draw, when, and what the epoch bar shows."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest

from stvlm.errors import ConfigError
from stvlm.progress import EpochBar, bar, progress_enabled


@pytest.mark.parametrize(("value", "expected"), [(None, None), ("", None), ("1", True), ("0", False)])
def test_progress_env(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("STVLM_PROGRESS", raising=False)
    else:
        monkeypatch.setenv("STVLM_PROGRESS", value)
    assert progress_enabled() is expected


def test_bad_progress_env_names_the_value(monkeypatch):
    monkeypatch.setenv("STVLM_PROGRESS", "yes")
    with pytest.raises(ConfigError, match=r"^STVLM_PROGRESS = 'yes' is not allowed; allowed: 0 \(no bars\), 1 \(bars\)$"):
        bar(3, "x")


def test_no_bar_where_the_stream_is_not_a_terminal(monkeypatch):
    monkeypatch.delenv("STVLM_PROGRESS", raising=False)
    sink = io.StringIO()  # not a tty: tqdm's disable=None turns the bar off
    with bar(3, "x", file=sink) as ticker:
        ticker.update(3)
    assert sink.getvalue() == ""


def test_epoch_bar_ticks_once_per_epoch_with_loss_metric_and_best(monkeypatch):
    monkeypatch.setenv("STVLM_PROGRESS", "1")
    sink = io.StringIO()
    epochs = EpochBar(5, desc="train toy", file=sink)
    for epoch, (loss, mae) in enumerate([(0.5, 2.25), (0.25, 2.5)], start=1):
        record = SimpleNamespace(train_loss=loss, val={"mae": mae})
        epochs(record, SimpleNamespace(best_metric=2.25, best_epoch=1))
    epochs.close()
    text = sink.getvalue()
    assert "train toy:  40%" in text and "2/5" in text
    assert "loss=0.2500, val_mae=2.5000, best=2.2500 @ 1" in text
