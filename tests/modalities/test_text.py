"""Prompts (exact text on a tiny dataset) and the token table."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from stvlm.data.series import DatasetInfo, SpatioTemporalData
from stvlm.errors import ConfigError, DataError
from stvlm.modalities.text import TokenTable, build_prompts, first_sentence
from stvlm.configs import TextConfig

# Node means per step (0 = missing): 15, 12, 18, (none), 20, 20, 20, 30.
SPEEDS = [[10, 20], [12, 0], [14, 22], [0, 0], [16, 24], [20, 20], [21, 19], [30, 30]]
WEATHER = [[1, 1], [1, 1], [5, 2], [1, 1], [5, 5], [3, 3], [3, 1], [1, 1]]  # [T, N] classes
# The fixed sentences, which come last: task, image description, dataset sentence.
HEAD = (
    "Forecast the next 2 steps (60 min) from the past 3 steps. "
    "The image shows roads. Toy speeds on two roads."
)


def toy(timestamps: bool = True, side: bool = True) -> SpatioTemporalData:
    info = DatasetInfo(
        name="toy", folder="TOY", title="toy",
        description="Toy speeds on two roads.  Collected for tests.",
        nodes=2, steps=8, interval_minutes=30, channels=("speed",), units=("km/h",),
        missing_value=0.0, side_information=("weather", "poi") if side else (),
    )
    start = np.datetime64("2020-01-07T08:00")  # a Tuesday
    return SpatioTemporalData(
        info=info,
        values=np.array(SPEEDS, dtype=np.float32)[:, :, None],
        tod=np.arange(16, 24),
        dow=np.full(8, 1),
        timestamps=start + np.arange(8) * np.timedelta64(30, "m") if timestamps else None,
        node_side={"poi": np.array([4, 1])} if side else {},
        step_side={"weather": np.array(WEATHER)} if side else {},
    )


def prompts(data: SpatioTemporalData, starts, **cfg) -> list[str]:
    return build_prompts(
        data, np.array(starts), input_len=3, output_len=2,
        image_description="The image shows roads.", cfg=TextConfig(**{"style": "full", **cfg}),
    )


def test_exact_prompt() -> None:
    (text,) = prompts(toy(), [0])
    assert text == (
        "Speed in the window (mean over nodes, km/h): min 12.0, max 18.0, median 15.0, "
        "trend upward. The window runs from Tuesday 08:00 to Tuesday 09:00 at 30-minute intervals. "
        f"Weather class 2 at the last input step. Most common POI classes: 1 (1 node), 4 (1 node). {HEAD}"
    )


def test_statistics_skip_missing_steps_and_round() -> None:
    out = prompts(toy(), [2, 4, 5], include_time=False, include_side=False, stat_decimals=0)
    stats = "Speed in the window (mean over nodes, km/h):"
    assert out == [
        f"{stats} min 18, max 20, median 19, trend upward. {HEAD}",
        f"{stats} min 20, max 20, median 20, trend flat. {HEAD}",
        f"{stats} min 20, max 30, median 20, trend upward. {HEAD}",
    ]


def test_window_without_observations() -> None:
    data = toy()
    values = data.values.copy()
    values[1:4] = 0.0
    empty = dataclasses.replace(data, values=values)
    (text,) = prompts(empty, [1], include_time=False, include_side=False)
    assert text == f"Speed in the window (mean over nodes, km/h): no observations. {HEAD}"


@pytest.mark.parametrize("marker", [0.0, None])
def test_nan_and_inf_entries_are_left_out_of_the_statistics(marker) -> None:
    """A bring-your-own series may hold NaN or Inf: such an entry is unobserved, not a value
    that blanks its step's mean over nodes. Node 1 is NaN at steps 0-2 and Inf at step 4: the
    means are node 0's there (10, 12, 14 and 16)."""
    data = toy()
    values = data.values.copy()
    values[0:3, 1] = np.nan
    values[4, 1] = np.inf
    info = dataclasses.replace(data.info, missing_value=marker)
    holes = dataclasses.replace(data, values=values, info=info)
    out = prompts(holes, [0, 2], include_time=False, include_side=False)
    stats = "Speed in the window (mean over nodes, km/h):"
    # window 0: steps 0-2 = 10, 12, 14; window 2: 14, (step 3: 0 = missing | 0.0 without a marker), 16
    third = "min 14.0, max 16.0, median 15.0" if marker == 0.0 else "min 0.0, max 16.0, median 14.0"
    assert out == [f"{stats} min 10.0, max 14.0, median 12.0, trend upward. {HEAD}",
                   f"{stats} {third}, trend upward. {HEAD}"]


def test_time_from_tod_dow_without_timestamps_and_flags_off() -> None:
    (text,) = prompts(toy(timestamps=False, side=False), [4], include_stats=False)
    time = "The window runs from Tuesday 10:00 to Tuesday 11:00 at 30-minute intervals."
    assert text == f"{time} {HEAD}"
    (bare,) = prompts(toy(), [4], include_stats=False, include_time=False, include_side=False)
    assert bare == HEAD


def test_weather_majority_and_empty_image_description() -> None:
    out = build_prompts(
        toy(), np.array([2, 4]), input_len=3, output_len=2, image_description="",
        cfg=TextConfig(include_stats=False, include_time=False, style="full"),
    )
    assert out[0].endswith("Forecast the next 2 steps (60 min) from the past 3 steps. Toy speeds on two roads.")
    assert "Weather class 5 at the last input step." in out[0]  # step 4: both roads class 5
    assert "Weather class 1 at the last input step." in out[1]  # step 6: tie 3 / 1 -> 1


def test_first_sentence() -> None:
    assert first_sentence("One  two.\nThree four. Five") == "One two."
    assert first_sentence("No stop") == "No stop"


@pytest.mark.parametrize("starts", [[-1], [6]])
def test_window_outside_the_series(starts) -> None:
    with pytest.raises(DataError, match="outside the 8 steps of dataset 'toy'; allowed: 0 .. 5"):
        prompts(toy(), starts)


# -- token table -------------------------------------------------------------------------------

class CountingTokenizer(PreTrainedTokenizerFast):
    """A real fast tokenizer that records the texts of every call."""

    def __call__(self, text, *args, **kwargs):
        self.seen = [*getattr(self, "seen", []), list(text)]
        return super().__call__(text, *args, **kwargs)


def make_tokenizer(texts: list[str], pad: bool = True) -> CountingTokenizer:
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(texts, trainers.WordLevelTrainer(special_tokens=["[PAD]", "[UNK]"]))
    extra = {"pad_token": "[PAD]"} if pad else {}
    return CountingTokenizer(tokenizer_object=tok, unk_token="[UNK]", **extra)


def test_token_table_dedupes_and_looks_up_rows() -> None:
    texts = ["a b c", "d e", "a b c", "f"]
    starts = np.array([5, 0, 9, 2])
    tok = make_tokenizer(texts)
    table = TokenTable.build(tok, texts, starts, max_length=4)
    assert table.num_unique == 3 and table.max_length == 4 and table.num_truncated == 0
    assert all(call == ["a b c", "d e", "f"] for call in tok.seen)  # distinct prompts only
    calls = len(tok.seen)
    ids, mask = table.lookup(torch.tensor([9, 2, 0, 5]))
    assert len(tok.seen) == calls  # lookup never calls the tokenizer
    for row, text in enumerate(["a b c", "f", "d e", "a b c"]):
        expected = tok.convert_tokens_to_ids(text.split())
        n = len(expected)
        assert ids[row].tolist() == expected + [tok.pad_token_id] * (4 - n)
        assert mask[row].tolist() == [1] * n + [0] * (4 - n)
    assert ids.dtype == torch.int64 and mask.dtype == torch.int64
    assert table.row_of_start.tolist() == [1, -1, 2, -1, -1, 0, -1, -1, -1, 0]


def test_token_table_on_real_prompts_and_device_move() -> None:
    texts = prompts(toy(), [0, 1, 2, 3, 4, 5])
    tok = make_tokenizer(texts)
    table = TokenTable.build(tok, texts, np.arange(6), max_length=8)
    assert table.num_truncated == 6 and table.num_unique == 6
    moved = table.to("meta")
    assert moved.ids.device.type == "meta" and moved.num_unique == 6
    ids, mask = table.lookup(torch.tensor([3]))
    assert ids.shape == (1, 8) and mask.tolist() == [[1] * 8]


def test_token_table_errors() -> None:
    tok = make_tokenizer(["a b"])
    table = TokenTable.build(tok, ["a b", "b"], np.array([0, 2]), max_length=3)
    for bad in ([1], [3], [-1]):
        with pytest.raises(DataError, match=f"no prompt for window start {bad[0]}; it holds 2"):
            table.lookup(torch.tensor(bad))
    with pytest.raises(ConfigError, match="got 1 prompts for 2 starts"):
        TokenTable.build(tok, ["a"], np.array([0, 1]), max_length=3)
    with pytest.raises(ConfigError, match="max_length = 0"):
        TokenTable.build(tok, ["a"], np.array([0]), max_length=0)
    with pytest.raises(ConfigError, match="has no pad token"):
        TokenTable.build(make_tokenizer(["a"], pad=False), ["a"], np.array([0]), max_length=3)
    with pytest.raises(DataError, match="same window start with different prompts"):
        TokenTable.build(tok, ["a", "b"], np.array([1, 1]), max_length=3)


def test_exact_compact_prompt() -> None:
    (text,) = prompts(toy(), [0], style="compact")
    assert text == "Tuesday 08:00-09:00. Speed 12.0-18.0, median 15.0, upward. Weather class 2. toy."
    (bare,) = prompts(toy(side=False), [0], style="compact", include_stats=False)
    assert bare == "Tuesday 08:00-09:00. toy."


@pytest.mark.parametrize("dataset", ["nycbike-drop", "los-loop", "sz-taxi", "nycbike1"])
def test_compact_prompts_keep_time_and_statistics_within_vilts_40_tokens(dataset, data_root) -> None:
    """Which sentences survive the cut: with the offline tokenizer of the random presets (numbers
    digit by digit), every window's time and statistics (and sz-taxi's weather) fit in ViLT's 40
    tokens; only the constant dataset name may be cut."""
    from stvlm.configs import DataConfig
    from stvlm.data.pipeline import prepare
    from stvlm.models.backbones.tokenizer import word_tokenizer

    f = prepare(DataConfig(dataset=dataset, data_root=str(data_root), verify="size"))
    starts = np.concatenate([f.splits.train, f.splits.val, f.splits.test])
    texts = build_prompts(f.data, starts, input_len=12, output_len=12, image_description="",
                          cfg=TextConfig())
    tokenizer = word_tokenizer()
    for text in texts:
        name_at = text.rindex(". ") + 1  # the dataset name is the last sentence
        kept = len(tokenizer(text[:name_at])["input_ids"])
        assert kept <= 40, (kept, text)
