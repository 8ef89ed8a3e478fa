"""``fewshot_accuracy.py --merge``: seeds of one pair run in separate results folders, merged into
the table with exact seed-mean errors and recomputed intervals (``benchmarks/fewshot_merge.py``)."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from fewshot_merge import merge_pair, pair_intervals, seed_key  # noqa: E402

BLOCKS = np.array([0, 0, 1, 1, 2, 2])
COUNTS = {"mae": np.array([2, 2, 2, 2, 2, 2]), "mae_all": np.array([3, 3, 3, 3, 3, 3])}
FACTS = {"lookback_lags": [12], "parts": {"train": {"windows": 6, "first_start": 12}}}


def run(model: str, seed: int, mae: float) -> dict:
    return {"dataset": "toy", "setting": "10%", "model": model, "seed": seed, "git_commit": "aaa",
            "test": {"mae": mae}}


def errors_of(sums: dict[str, np.ndarray], **per_seed: np.ndarray) -> dict[str, np.ndarray]:
    """An errors file: seed-mean sums per model (both metrics alike), counts, blocks and per-seed keys."""
    out = {"blocks": BLOCKS, **{f"count|{m}": c for m, c in COUNTS.items()}}
    out.update({f"{model}|{m}": s for model, s in sums.items() for m in COUNTS})
    out.update({k.replace("__", "|"): v for k, v in per_seed.items()})
    return out


def table() -> tuple[dict, dict]:
    stvlm, gwnet = np.array([2.0, 2, 2, 2, 2, 2]), np.array([3.0, 3, 3, 3, 3, 3])
    result = {"runs": [run("st-vlm", 0, 1.0), run("st-vlm", 1, 1.0), run("gwnet", 0, 1.5), run("other", 0, 9.0)],
              "intervals": [], "splits": {"toy|10%": {**FACTS, "git_commit": "aaa"}}, "meta": {"commands": ["first"]}}
    return result, errors_of({"st-vlm": stvlm, "gwnet": gwnet, "other": stvlm})


def source(*seeds: int, name_commit: str = "bbb") -> tuple[dict, dict]:
    """A results folder whose gwnet ran ``seeds`` (per-window error sums 4 + seed), holding the
    table's gwnet seed 0 as reused."""
    runs = [run("gwnet", 0, 1.5)] + [{**run("gwnet", s, 1.5 + s), "git_commit": name_commit} for s in seeds]
    per_seed = {seed_key("gwnet", m, s).replace("|", "__"): np.full(6, 4.0 + s) for s in seeds for m in COUNTS}
    result = {"runs": runs, "splits": {"toy|10%": dict(FACTS)}, "git_commit": name_commit,
              "meta": {"commands": ["first", f"python benchmarks/fewshot_accuracy.py --only gwnet --seeds {seeds}"]}}
    return result, errors_of({"gwnet": np.full(6, 9.0)}, **per_seed)


def test_a_merged_source_run_elsewhere_is_named_with_its_device_and_versions() -> None:
    """Seeds run on another machine (a GPU, other package versions) say so in the merge record and
    on the page; records written before the device was kept are rendered as before."""
    from fewshot_provenance import code_note, machine_line, run_device

    result, errors = table()
    src, src_errors = source(1, name_commit="ddd")
    src = {**src, "device": "NVIDIA H200", "versions": {"torch": "2.11.0"}}
    merged, _, _ = merge_pair(result, errors, [("gpu", src, src_errors)], "toy", "10%")
    split = merged["splits"]["toy|10%"]
    assert split["merged"] == [{"from": "gpu", "git_commit": "ddd", "command": src["meta"]["commands"][-1],
                                "device": "NVIDIA H200", "versions": {"torch": "2.11.0"}, "runs": {"gwnet": [1]}}]
    gpu_run = next(r for r in merged["runs"] if (r["model"], r["seed"]) == ("gwnet", 1))
    assert "device" not in gpu_run and run_device(merged, gpu_run) == "NVIDIA H200"  # its merge record's
    with_meta = {**merged, "meta": {**merged["meta"], "machine": "2-core CPU (B), no GPU",
                                    "unrecorded_machine": "2-core CPU (A), no GPU"}}
    assert machine_line(with_meta) == (
        "Machines, from each run's record (its own, or its merge's): NVIDIA H200: 1 run (gwnet); 4 runs (st-vlm, gwnet, other) are "
        "older than that record (the table's machine line for them: 2-core CPU (A), no GPU). "
        "Last written on: 2-core CPU (B), no GPU.")
    recorded = {**with_meta, "runs": [{**r, "device": "cpu (C)"} for r in merged["runs"]]}
    assert machine_line(recorded) == ("Machines, from each run's record (its own, or its merge's): cpu (C): 5 runs (st-vlm, gwnet, other). "
                                      "Last written on: 2-core CPU (B), no GPU.")
    older = {**split, "merged": [*split["merged"], {"from": "cpu", "git_commit": "eee", "runs": {"gwnet": [2]}}]}
    assert code_note(older, ["st-vlm", "gwnet"]) == (
        "code aaa; gwnet seed 1 run in separate processes at ddd on NVIDIA H200 and merged;"
        " gwnet seed 2 run in separate processes at eee and merged")
    # a tree with uncommitted changes keeps its mark on the page
    assert code_note({"git_commit": "0123456789abcdef-dirty"}, ["st-vlm"]) == "code 0123456-dirty"
    # a reused model whose seeds ran at several commits is named with each seed's (the record
    # keeps the first run's commit only)
    reused = {"git_commit": "aaa", "reused": {"gwnet": "1111111aaa", "ridge": "1111111aaa"}}
    runs = [{"model": "gwnet", "seed": s, "git_commit": c} for s, c in ((0, "1111111aaa"), (1, "2222222bbb"),
                                                                      (2, "2222222bbb"))]
    assert code_note(reused, ["st-vlm", "gwnet", "ridge"], runs) == (
        "code aaa; gwnet reused from 1111111 (seed 0), 2222222 (seeds 1, 2); ridge reused from 1111111")


def test_merge_adds_each_source_seed_with_exact_seed_mean_errors_and_intervals() -> None:
    result, errors = table()
    one, two = source(1), source(2, 3, name_commit="ccc")
    merged, new, added = merge_pair(result, errors, [("one", *one), ("two", *two)], "toy", "10%")
    assert added == {"gwnet": [1, 2, 3]}
    # gwnet: the table's seed 0 (3 per window) and the added seeds 1, 2, 3 (5, 6, 7): mean 5.25
    np.testing.assert_array_equal(new["gwnet|mae"], np.full(6, 5.25))
    np.testing.assert_array_equal(new["gwnet|mae_all"], np.full(6, 5.25))
    np.testing.assert_array_equal(new[seed_key("gwnet", "mae", 3)], np.full(6, 7.0))
    np.testing.assert_array_equal(new["st-vlm|mae"], errors["st-vlm|mae"])
    assert [(r["model"], r["seed"], r["git_commit"]) for r in merged["runs"]] == [
        ("st-vlm", 0, "aaa"), ("st-vlm", 1, "aaa"), ("gwnet", 0, "aaa"), ("gwnet", 1, "bbb"),
        ("gwnet", 2, "ccc"), ("gwnet", 3, "ccc"), ("other", 0, "aaa")]
    assert merged["splits"]["toy|10%"]["merged"] == [
        {"from": "one", "git_commit": "bbb", "command": "python benchmarks/fewshot_accuracy.py --only gwnet --seeds (1,)",
         "runs": {"gwnet": [1]}},
        {"from": "two", "git_commit": "ccc", "command": "python benchmarks/fewshot_accuracy.py --only gwnet --seeds (2, 3)",
         "runs": {"gwnet": [2, 3]}}]
    ivs = {(i["baseline"], i["metric"]): i for i in merged["intervals"]}
    assert set(ivs) == {(m, k) for m in ("gwnet", "other") for k in COUNTS}
    # per entry: ST-VLM 2/2 = 1.0 and 2/3 against gwnet 5.25/2 and 5.25/3, every resample alike
    assert ivs["gwnet", "mae"]["diff"] == pytest.approx(1.0 - 2.625)
    assert ivs["gwnet", "mae_all"]["diff"] == pytest.approx((2.0 - 5.25) / 3)
    assert ivs["gwnet", "mae"]["low"] == pytest.approx(ivs["gwnet", "mae"]["high"])
    assert ivs["other", "mae"]["diff"] == 0.0
    sums = {m: {k: new[f"{m}|{k}"] for k in COUNTS} for m in ("st-vlm", "gwnet", "other")}
    assert merged["intervals"] == pair_intervals("toy", "10%", ["st-vlm", "gwnet", "other"], sums, COUNTS, BLOCKS)
    assert result["runs"][-1]["model"] == "other" and len(result["runs"]) == 4  # the input is not changed


def test_merge_of_a_model_the_pair_skipped_drops_it_from_the_skipped_record() -> None:
    """STAEformer skipped on a pair, then run seed by seed and merged: the pair no longer records it
    as skipped (the page lists skipped models as "Not run"); other skipped models stay listed."""
    result, errors = table()
    result["splits"]["toy|10%"]["skipped"] = ["gwnet", "staeformer"]
    result["runs"] = [r for r in result["runs"] if r["model"] != "gwnet"]
    src, src_errors = source(1)
    src["runs"] = [r for r in src["runs"] if r["seed"] == 1]  # no reused seed 0: the table has none
    merged, new, added = merge_pair(result, errors, [("one", src, src_errors)], "toy", "10%")
    assert added == {"gwnet": [1]}
    assert merged["splits"]["toy|10%"]["skipped"] == ["staeformer"]
    # gwnet had no seed in the table: its seed-mean errors are the added seed's alone (4 + 1)
    np.testing.assert_array_equal(new["gwnet|mae"], np.full(6, 5.0))
    assert result["splits"]["toy|10%"]["skipped"] == ["gwnet", "staeformer"]  # the input is not changed
    # a split without its own record takes the run-wide one, as the page does
    result, errors = table()
    result["meta"]["skipped"] = ["gwnet"]
    merged, _, _ = merge_pair(result, errors, [("one", *source(1))], "toy", "10%")
    assert merged["splits"]["toy|10%"]["skipped"] == []


def test_merge_refuses_what_it_cannot_add_exactly() -> None:
    result, errors = table()

    def refused(src: tuple[dict, dict], match: str, *more: tuple[dict, dict]) -> None:
        with pytest.raises(ValueError, match=match):
            merge_pair(result, errors, [("src", *src), *(("more", *m) for m in more)], "toy", "10%")

    good = source(1)
    refused((good[0], {**good[1], "blocks": BLOCKS[::-1].copy()}), "src: toy 10% was scored on other test windows")
    refused(({**good[0], "splits": {"toy|10%": {**FACTS, "lookback_lags": [24]}}}, good[1]),
            r"src: toy 10% ran with other lookback lags \(\[24\], the table: \[12\]\)")
    refused(({**good[0], "splits": {}}, good[1]), "src: has no toy 10%")
    changed = ({**good[0], "runs": [{**run("gwnet", 0, 1.4)}] + good[0]["runs"][1:]}, good[1])
    refused(changed, "src: gwnet seed 0 differs from the table's run of that seed")
    refused(good, "more: gwnet seed 1 is also in an earlier source", good)
    lacking = (good[0], {k: v for k, v in good[1].items() if k != seed_key("gwnet", "mae_all", 1)})
    refused(lacking, r"src: no per-seed errors of gwnet seed 1 \(gwnet\|mae_all\|seed1\)")
    refused(source(), "no source adds a run to toy 10%")
    with pytest.raises(ValueError, match="the table has no toy full to merge into"):
        merge_pair(result, errors, [("src", *good)], "toy", "full")


def test_merge_keeps_a_model_at_one_epoch_cap_and_records_it() -> None:
    """A seed trained with another epoch cap than the table's runs of that model is refused (a
    model's seeds are one draw of one budget); an added seed records the cap it ran with, from
    its file's ``meta.epochs`` where the run predates the per-run record."""
    result, errors = table()
    result["meta"]["epochs"] = 40
    result["runs"] = [{**r, "epochs_run": 12} if r["model"] == "gwnet" else r for r in result["runs"]]
    src, src_errors = source(1)
    src["runs"] = [{**r, "epochs_run": 30} for r in src["runs"]]
    longer = {**src, "runs": [{**r, "epochs": 80} if r["seed"] == 1 else r for r in src["runs"]]}
    with pytest.raises(ValueError, match="src: gwnet seed 1 ran with an epoch cap of 80, the table's gwnet runs "
                                         "with 40: re-run every seed with --only"):
        merge_pair(result, errors, [("src", longer, src_errors)], "toy", "10%")
    merged, _, _ = merge_pair(result, errors, [("src", {**src, "meta": {"epochs": 40}}, src_errors)], "toy", "10%")
    assert [(r["seed"], r.get("epochs")) for r in merged["runs"] if r["model"] == "gwnet"] == [(0, None), (1, 40)]


def test_merge_with_replace_takes_a_baseline_whole_from_the_sources() -> None:
    """``--replace gwnet``: the table's gwnet runs (seed 0), per-seed errors and merge records go;
    the sources' gwnet runs of every seed come in at their own cap, even seed 0 with other
    results; the sources' runs of other models are not read; the pair keeps its model order."""
    result, errors = table()
    result["meta"]["epochs"] = 40
    result["runs"][2] = {**run("gwnet", 0, 1.5), "epochs_run": 40}
    errors[seed_key("gwnet", "mae", 0)] = errors[seed_key("gwnet", "mae_all", 0)] = np.full(6, 3.0)
    result["splits"]["toy|10%"]["merged"] = [{"from": "old", "runs": {"gwnet": [0]}},
                                            {"from": "older", "runs": {"gwnet": [0], "other": [0]}}]
    result["splits"]["toy|10%"]["reused"] = {"gwnet": "old", "other": "old"}  # the table took them over
    src, src_errors = source(1)
    src["runs"] = [{**r, "epochs": 80, "epochs_run": 80, "test": {"mae": 1.0 + r["seed"]}} for r in src["runs"]]
    src["runs"].append(run("other", 0, 5.0))  # an older run of another model: ignored
    src_errors.update({seed_key("gwnet", m, 0): np.full(6, 1.0) for m in COUNTS})
    merged, new, added = merge_pair(result, errors, [("src", src, src_errors)], "toy", "10%", ("gwnet",))
    assert added == {"gwnet": [0, 1]}
    assert [(r["model"], r["seed"], r["test"]["mae"], r.get("epochs")) for r in merged["runs"]] == [
        ("st-vlm", 0, 1.0, None), ("st-vlm", 1, 1.0, None), ("gwnet", 0, 1.0, 80), ("gwnet", 1, 2.0, 80),
        ("other", 0, 9.0, None)]
    np.testing.assert_array_equal(new["gwnet|mae"], np.full(6, 3.0))  # (1 + 5) / 2: the table's 3.0 is gone
    np.testing.assert_array_equal(new[seed_key("gwnet", "mae", 0)], np.full(6, 1.0))
    assert [m["runs"] for m in merged["splits"]["toy|10%"]["merged"]] == [{"other": [0]}, {"gwnet": [0, 1]}]
    assert merged["splits"]["toy|10%"]["reused"] == {"other": "old"}  # gwnet's runs are not the table's old ones
    assert [i["baseline"] for i in merged["intervals"] if i["metric"] == "mae"] == ["gwnet", "other"]
    for replace, match in ((("st-vlm",), "--replace st-vlm: not a baseline of the table's toy 10%"),
                           (("ridge",), "--replace ridge: not a baseline of the table's toy 10%"),
                           (("gwnet", "other"), r"src: no per-seed errors of other seed 0")):
        with pytest.raises(ValueError, match=match):
            merge_pair(result, errors, [("src", src, src_errors)], "toy", "10%", replace)
    src["runs"] = [r for r in src["runs"] if r["model"] == "gwnet"]
    with pytest.raises(ValueError, match="--replace other: no source has a run of it on toy 10%"):
        merge_pair(result, errors, [("src", src, src_errors)], "toy", "10%", ("gwnet", "other"))


def test_the_machine_line_names_the_gpu_only_where_there_is_one(monkeypatch) -> None:
    import fewshot_accuracy

    monkeypatch.setattr(fewshot_accuracy.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(fewshot_accuracy, "cpu_description", lambda: "AMD EPYC, x86_64, AVX512")
    monkeypatch.setattr(fewshot_accuracy.torch.cuda, "is_available", lambda: False)
    assert fewshot_accuracy.machine() == "2-core CPU (AMD EPYC, x86_64, AVX512), no GPU"
    monkeypatch.setattr(fewshot_accuracy.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(fewshot_accuracy, "device_name", lambda: "NVIDIA H200")
    assert fewshot_accuracy.machine() == "2-core CPU (AMD EPYC, x86_64, AVX512), GPU NVIDIA H200"
    monkeypatch.setattr(fewshot_accuracy, "cpu_description", lambda: "")
    assert fewshot_accuracy.machine() == "2-core CPU (unknown), GPU NVIDIA H200"


@pytest.mark.slow
def test_seeds_run_in_two_folders_merge_into_the_table(tmp_path: Path, data_root: Path, monkeypatch, capsys) -> None:
    """The real benchmark: GRU seed 0 re-run alone in one copy of the committed results and seed 1
    in another (1 epoch, nycbike1 10%), each saving its per-seed errors; ``--merge`` of the second
    into the first gives the GRU two seeds whose error sums are the mean of the two runs', the
    page re-rendered; a merge that adds nothing is refused in one line, with nothing written; a
    later run of STID alone carries the GRU's per-seed errors into the new file unchanged."""
    import fewshot_accuracy

    with _main_undone():
        _run_merge_study(tmp_path, data_root, monkeypatch, capsys, fewshot_accuracy)


def test_only_without_a_table_in_out_dir_stops_before_reading_data(tmp_path: Path, data_root: Path,
                                                                    monkeypatch, capsys) -> None:
    """``--only`` keeps the other models' runs from the table in ``--out-dir``: a folder without
    one is refused in one line that says how to make the copy, and nothing is created."""
    import fewshot_accuracy

    out = tmp_path / "copy"
    monkeypatch.setattr(sys, "argv", ["fewshot_accuracy.py", "--only", "staeformer", "--seeds", "4", "--datasets",
                                      "nycbike-drop", "--settings", "full", "--out-dir", str(out),
                                      "--data-root", str(data_root)])
    with _main_undone(), pytest.raises(SystemExit) as exit_:
        fewshot_accuracy.main()
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert exit_.value.code == 2
    assert err.endswith(f"--only keeps the other models' runs from the table in --out-dir, and {out} holds none: "
                        f"run it in a copy (cp -r results/fewshot_accuracy {out})")
    assert not out.exists()


@contextlib.contextmanager
def _main_undone() -> Iterator[None]:
    """``fewshot_accuracy.main()`` sets one torch thread and quiets these loggers for its own
    process: undone after, for the tests that follow in this one."""
    import logging

    import torch

    threads = torch.get_num_threads()
    levels = {name: logging.getLogger(name).level for name in ("stvlm", "stvlm.engine", "transformers")}
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _run_merge_study(tmp_path: Path, data_root: Path, monkeypatch, capsys, fewshot_accuracy) -> None:
    committed = REPO / "results" / "fewshot_accuracy"
    folders = {}
    for seed in (0, 1):
        folder = folders[seed] = tmp_path / f"seed{seed}"
        shutil.copytree(committed, folder, ignore=shutil.ignore_patterns("validation-*", "*ablation*", "kept-start.json"))
        monkeypatch.setattr(sys, "argv", [
            "fewshot_accuracy.py", "--datasets", "nycbike1", "--settings", "10%", "--only", "gru", "--seeds", str(seed),
            "--epochs", "1", "--out-dir", str(folder), "--data-root", str(data_root),
            *(["--state-dir", str(tmp_path / "states")] if seed == 1 else [])])
        assert fewshot_accuracy.main() == 0
    assert (tmp_path / "states").is_dir() and not any((tmp_path / "states").iterdir())  # removed once written
    saved = [dict(np.load(folders[s] / "errors-nycbike1-10pct.npz")) for s in (0, 1)]
    for seed, errors in zip((0, 1), saved):
        np.testing.assert_array_equal(errors["gru|mae"], errors[seed_key("gru", "mae", seed)])
    committed_errors = dict(np.load(committed / "errors-nycbike1-10pct.npz"))
    stvlm_keys = [k for k in committed_errors if k.startswith("st-vlm|")]
    assert stvlm_keys and all(k in saved[0] for k in stvlm_keys)  # ST-VLM kept whole: its sums and
    for key in stvlm_keys:  # any per-seed errors it was committed with, exactly as committed
        np.testing.assert_array_equal(saved[0][key], committed_errors[key])
    monkeypatch.setattr(sys, "argv", ["fewshot_accuracy.py", "--merge", str(folders[1]), "--datasets", "nycbike1",
                                      "--settings", "10%", "--out-dir", str(folders[0])])
    assert fewshot_accuracy.main() == 0
    merged = dict(np.load(folders[0] / "errors-nycbike1-10pct.npz"))
    for m in ("mae", "mae_all"):
        np.testing.assert_allclose(merged[f"gru|{m}"], (saved[0][f"gru|{m}"] + saved[1][f"gru|{m}"]) / 2, rtol=1e-12)
    result = json.loads((folders[0] / "fewshot_accuracy.json").read_text())
    row = next(r for r in result["rows"] if (r["dataset"], r["setting"], r["model"]) == ("nycbike1", "10%", "gru"))
    assert row["seeds"] == [0, 1]
    # the committed pair's own merge records (other models) come first: the GRU's is the newest
    committed_merges = len(json.loads((committed / "fewshot_accuracy.json").read_text())["splits"]["nycbike1|10%"].get(
        "merged", []))
    assert [m["runs"] for m in result["splits"]["nycbike1|10%"]["merged"][committed_merges:]] == [{"gru": [1]}]
    assert result["meta"]["commands"][-1].startswith("python benchmarks/fewshot_accuracy.py --merge ")
    assert result["meta"]["machine"] == fewshot_accuracy.machine()
    from fewshot_provenance import unrecorded_machine  # the committed table's line for its older runs stays
    assert result["meta"]["unrecorded_machine"] == unrecorded_machine(json.loads((committed / "fewshot_accuracy.json").read_text()))
    page = (folders[0] / "README.md").read_text()
    assert "gru (nycbike1 10%: 2 seeds)" in page  # fewer seeds than ST-VLM's five
    record = result["splits"]["nycbike1|10%"]["merged"][-1]
    assert record["device"].startswith("cpu") and record["versions"]["torch"]  # where the merged seed ran
    from fewshot_provenance import short_commit

    commit = short_commit(record["git_commit"])  # 7 digits, "-dirty" kept where the tree had changes
    assert f"gru seed 1 run in separate processes at {commit} on {record['device']} and merged" in page
    before = (folders[0] / "fewshot_accuracy.json").read_bytes()
    with pytest.raises(SystemExit) as exit_:
        fewshot_accuracy.main()  # the same merge again: every run is already there
    assert exit_.value.code == 2 and "--merge: no source adds a run to nycbike1 10%" in capsys.readouterr().err
    assert (folders[0] / "fewshot_accuracy.json").read_bytes() == before
    # a later run of another model keeps the GRU whole, and with it each kept seed's own errors;
    # without --epochs it trains at its cap on the pair (here made 1: EPOCH_CAPS)
    from stvlm.configs import pair_choices

    monkeypatch.setitem(pair_choices.EPOCH_CAPS, ("stid", "nycbike1", "10%"), (1, "epoch-cap-x.json"))
    monkeypatch.setattr(sys, "argv", [
        "fewshot_accuracy.py", "--datasets", "nycbike1", "--settings", "10%", "--only", "stid", "--seeds", "0",
        "--out-dir", str(folders[0]), "--data-root", str(data_root)])
    assert fewshot_accuracy.main() == 0
    carried = dict(np.load(folders[0] / "errors-nycbike1-10pct.npz"))
    for seed in (0, 1):
        for m in ("mae", "mae_all"):
            np.testing.assert_array_equal(carried[seed_key("gru", m, seed)], saved[seed][seed_key("gru", m, seed)])
    np.testing.assert_array_equal(carried["gru|mae"], merged["gru|mae"])
    assert seed_key("stid", "mae", 0) in carried and seed_key("stid", "mae", 1) not in carried
    # ... and where the GRU's seed 1 came from; each new run records its cap of 1 epoch (--epochs
    # for the GRU, EPOCH_CAPS's for STID), the
    # runs kept from the committed table have the table's 40 (meta.epochs), and the page says so
    result = json.loads((folders[0] / "fewshot_accuracy.json").read_text())
    assert [m["runs"] for m in result["splits"]["nycbike1|10%"]["merged"] if "gru" in m["runs"]] == [{"gru": [1]}]
    assert not any("stid" in m["runs"] for m in result["splits"]["nycbike1|10%"]["merged"])  # STID ran again
    caps = {r["model"]: r["epoch_cap"] for r in result["rows"] if (r["dataset"], r["setting"]) == ("nycbike1", "10%")}
    table = json.loads((committed / "fewshot_accuracy.json").read_text())
    kept = {r["model"]: r.get("epoch_cap", table["meta"]["epochs"]) for r in table["rows"]
            if (r["dataset"], r["setting"]) == ("nycbike1", "10%") and r["epochs_run"]}
    assert caps["gru"] == caps["stid"] == 1 and caps["st-vlm"] == 40
    assert {m: caps[m] for m in kept if m not in ("gru", "stid")} == {m: c for m, c in kept.items() if m not in ("gru", "stid")}
    assert result["meta"]["epochs"] == 40
    assert "Trained with another epoch cap than 40: " in (folders[0] / "README.md").read_text()
    # --replace: the GRU taken whole from the second folder (its seed 1 alone), STID's new run kept
    for argv, message in ((["--replace", "gru"], "--replace takes the runs of --merge's folders"),
                          (["--merge", str(folders[1]), "--replace", "ridge2"], "unknown baseline 'ridge2' in --replace")):
        monkeypatch.setattr(sys, "argv", ["fewshot_accuracy.py", *argv, "--out-dir", str(folders[0])])
        with pytest.raises(SystemExit) as exit_:
            fewshot_accuracy.main()
        assert exit_.value.code == 2 and message in capsys.readouterr().err
    monkeypatch.setattr(sys, "argv", ["fewshot_accuracy.py", "--merge", str(folders[1]), "--replace", "gru", "--datasets",
                                      "nycbike1", "--settings", "10%", "--out-dir", str(folders[0])])
    assert fewshot_accuracy.main() == 0
    replaced = dict(np.load(folders[0] / "errors-nycbike1-10pct.npz"))
    np.testing.assert_array_equal(replaced["gru|mae"], saved[1]["gru|mae"])
    assert seed_key("gru", "mae", 0) not in replaced and seed_key("stid", "mae", 0) in replaced
    result = json.loads((folders[0] / "fewshot_accuracy.json").read_text())
    seeds = {r["model"]: r["seeds"] for r in result["rows"] if (r["dataset"], r["setting"]) == ("nycbike1", "10%")}
    assert seeds["gru"] == [1] and seeds["stid"] == [0]
    assert [m["runs"] for m in result["splits"]["nycbike1|10%"]["merged"] if "gru" in m["runs"]] == [{"gru": [1]}]


def test_a_seed_run_with_other_settings_is_not_merged_into_a_row() -> None:
    """The --reuse path refuses runs of another ST-VLM config, options or training settings; a
    merge must too, or their seeds would share one mean, one std and the intervals."""
    result, errors = table()
    for r in result["runs"]:
        if r["model"] == "gwnet":
            r.update(options={"hidden": 64}, train={"lr": 1e-3, "amp": False})
    for change, message in (({"options": {"hidden": 8}}, "options hidden (8, the table's run: 64)"),
                            ({"train": {"lr": 0.1, "amp": False}}, "training setting lr (0.1, the table's run: 0.001)")):
        src, src_errors = source(1)
        src["runs"] = [{**r, **change} if r["seed"] == 1 else r for r in src["runs"]]
        with pytest.raises(ValueError, match=rf"^one: gwnet seed 1 ran with another {re.escape(message)}: its seeds"):
            merge_pair(result, errors, [("one", src, src_errors)], "toy", "10%")
    src, src_errors = source(1)  # nothing recorded on the source's side: no clash
    merge_pair(result, errors, [("one", src, src_errors)], "toy", "10%")
