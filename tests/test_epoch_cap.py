"""The accuracy table's epoch cap: the per-run record, the rows and page that show it, and the
rule that picks 40 or 80 epochs, then 80 or 160, from validation metrics (``benchmarks/epoch_cap.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from epoch_cap import ROUNDS, cap_choice, near_cap, only_commands, run_rows  # noqa: E402
from fewshot_accuracy import aggregate, kept_merges  # noqa: E402
from fewshot_pages import _cap_lines, _epoch_caveats, _rounds_offered, table_lines  # noqa: E402
from validation_sweeps import SWEEPS  # noqa: E402

FIRST = ROUNDS["80"]
CAPPED, SHORT, LONG = FIRST.capped, FIRST.short, FIRST.long
METRICS = ("mae", "rmse", "wape", "mae_all", "rmse_all", "wape_all", "bias")


def table_run(model: str, seed: int, mae: float, mae_all: float, **extra) -> dict:
    return {"dataset": "toy", "setting": "10%", "model": model, "seed": seed,
            "val": {"mae": mae, "mae_all": mae_all}, **extra}


def sweep_row(model: str, seed: int, mae: float, mae_all: float) -> dict:
    return {"dataset": "toy", "setting": "10%", "model": model, "seed": seed, "candidate": "epochs 80",
            "val_mae": mae, "val_mae_all": mae_all}


def test_cap_choice_compares_the_mean_validation_target_over_shared_seeds() -> None:
    table = [table_run("gru", 0, 4.0, 2.0), table_run("gru", 1, 6.0, 2.0), table_run("gru", 2, 1.0, 1.0),
             table_run("gru", 1, 0.0, 0.0, epochs=LONG),  # another cap: not the reference
             table_run("stid", 0, 2.0, 2.0)]
    rows = [sweep_row("gru", 0, 3.0, 2.0), sweep_row("gru", 1, 5.0, 2.0), sweep_row("stid", 0, 2.0, 2.0)]
    gru, stid = cap_choice(rows, {"runs": table, "meta": {"epochs": 40}}, FIRST)
    # gru, seeds 0 and 1 only: 40 epochs (3 + 4) / 2 = 3.5, 80 epochs (2.5 + 3.5) / 2 = 3.0
    assert gru == {"model": "gru", "dataset": "toy", "setting": "10%", "seeds": [0, 1],
                   "short": 3.5, "long": 3.0, "epochs": LONG}
    assert (stid["short"], stid["long"], stid["epochs"]) == (2.0, 2.0, SHORT)  # a tie keeps 40
    with pytest.raises(ValueError, match=r"gwnet toy 10%: the table has no 40-epoch run of seeds \[0\]"):
        cap_choice([sweep_row("gwnet", 0, 1.0, 1.0)], {"runs": table, "meta": {"epochs": 40}}, FIRST)


def test_only_commands_name_the_chosen_models_per_pair_and_what_the_pair_skipped() -> None:
    choices = [{"model": m, "dataset": d, "setting": "10%", "epochs": e}
               for m, d, e in (("gru", "a", LONG), ("stid", "a", LONG), ("gwnet", "a", SHORT), ("gru", "b", LONG))]
    table = {"splits": {"a|10%": {}, "b|10%": {"skipped": ["staeformer"]}}, "meta": {}}
    assert only_commands(choices, table, FIRST) == [
        "python benchmarks/fewshot_accuracy.py --only gru stid --seeds 0 1 2 3 4 --epochs 80 --datasets a --settings 10%",
        "python benchmarks/fewshot_accuracy.py --only gru --seeds 0 1 2 3 4 --epochs 80 --datasets b --settings 10% "
        "--skip staeformer"]


def test_the_second_round_compares_80_with_160_against_the_80_epoch_runs() -> None:
    second = ROUNDS["160"]
    runs = [table_run("gru", 0, 4.0, 2.0), table_run("gru", 0, 3.0, 2.0, epochs=80),
            table_run("gru", 1, 2.0, 2.0, epochs=80)]
    table, seed_0_at_40 = {"runs": runs, "meta": {"epochs": 40}}, {"runs": runs[:1], "meta": {"epochs": 40}}
    rows = [{**sweep_row("gru", s, m, 2.0), "candidate": "epochs 160"} for s, m in ((0, 2.0), (1, 3.0))]
    # the 80-epoch runs only: (2.5 + 2.0) / 2 = 2.25 against (2.0 + 2.5) / 2 = 2.25: a tie keeps 80
    assert cap_choice(rows, table, second)[0] == {"model": "gru", "dataset": "toy", "setting": "10%", "seeds": [0, 1],
                                                  "short": 2.25, "long": 2.25, "epochs": 80}
    assert cap_choice(rows[:1], table, second)[0]["epochs"] == 160  # seed 0 alone: 2.0 < 2.5
    with pytest.raises(ValueError, match=r"gru toy 10%: the table has no 80-epoch run of seeds \[0, 1\]"):
        cap_choice(rows, seed_0_at_40, second)
    assert only_commands([{"model": "gru", "dataset": "toy", "setting": "10%", "epochs": 160}],
                         {"splits": {"toy|10%": {}}, "meta": {}}, second) == [
        "python benchmarks/fewshot_accuracy.py --only gru --seeds 0 1 2 3 4 --epochs 160 --datasets toy --settings 10%"]
    assert (second.sweep("gru"), second.out_name, FIRST.sweep("gru"), FIRST.out_name) == (
        "cap160-gru", "epoch-cap-160.json", "cap-gru", "epoch-cap.json")
    assert second.rule.startswith("per (model, dataset, setting) of the round's capped pairs: 160 epochs replace 80 ")


def test_every_capped_pair_has_its_sweep() -> None:
    for rnd in ROUNDS.values():
        for model, pairs in rnd.capped.items():
            assert SWEEPS[rnd.sweep(model)] == (pairs, model, ((f"epochs {rnd.long}", {"epochs": rnd.long}, {}),))
    assert SWEEPS["cap-gru"][0] == (("los-loop", "10%"), ("nycbike-drop", "10%"), ("nycbike1", "10%"),
                                    ("nycbike1", "full"))
    assert SWEEPS["cap160-gru"][0] == (("nycbike-drop", "10%"), ("nycbike1", "10%"), ("nycbike1", "full"))
    assert SWEEPS["cap320-gru"][0] == (("nycbike1", "10%"),)
    assert [(r.name, r.short, r.long) for r in ROUNDS.values()] == [
        ("80", 40, 80), ("160", 80, 160), ("320", 160, 320), ("near160", 80, 160), ("near320", 160, 320),
        ("near80", 40, 80), ("own80", 40, 80), ("near80-sz", 40, 80), ("own80-sz", 40, 80),
        ("own80-now", 40, 80), ("own160", 80, 160)]
    assert ROUNDS["own160"].capped == {"st-vlm": (("nycbike-drop", "10%"),)}
    assert ROUNDS["own80-now"].capped == {"st-vlm": (("nycbike-drop", "10%"), ("nycbike1", "full"))}
    assert ROUNDS["near80-sz"].capped == {"gru": (("sz-taxi", "full"),)}
    assert ROUNDS["own80-sz"].capped == {"st-vlm": (("sz-taxi", "full"),)}
    assert ROUNDS["own80"].capped == {"st-vlm": (("los-loop", "full"), ("sz-taxi", "full"))}
    assert all(key == rnd.name for key, rnd in ROUNDS.items())
    assert (ROUNDS["near160"].sweep("gru"), ROUNDS["near320"].out_name) == ("capnear160-gru", "epoch-cap-near320.json")


def near_run(model: str, seed: int, best: int, run: int, **extra) -> dict:
    return {"dataset": "toy", "setting": "10%", "model": model, "seed": seed, "best_epoch": best,
            "epochs_run": run, **extra}


def test_near_cap_lists_baselines_that_trained_to_the_cap_with_their_best_epoch_in_its_last_5_percent() -> None:
    runs = [near_run("gru", 1, 76, 80, epochs=80), near_run("gru", 0, 79, 80, epochs=80),  # 76 = 0.95 * 80
            near_run("stid", 0, 38, 40), near_run("stid", 1, 37, 40),  # one seed only: 37 < 38
            near_run("gwnet", 0, 39, 39), near_run("gwnet", 1, 40, 40),  # early stopping ended seed 0
            near_run("st-vlm", 0, 40, 40), near_run("st-vlm", 1, 40, 40),  # not a baseline
            {"dataset": "toy", "setting": "10%", "model": "ridge", "seed": 0, "best_epoch": None, "epochs_run": None}]
    table = {"runs": runs, "meta": {"epochs": 40}}
    assert near_cap(table) == [{"model": "gru", "dataset": "toy", "setting": "10%", "cap": 80, "best_epochs": [79, 76]}]
    assert [r["model"] for r in near_cap(table, skip=())] == ["gru", "st-vlm"]
    assert [r["model"] for r in near_cap(table, min_seeds=1)] == ["gru", "stid", "gwnet"]
    with pytest.raises(ValueError, match=r"gru toy 10%: runs with caps \[40, 80\]"):
        near_cap({"runs": [*runs, near_run("gru", 2, 40, 40)], "meta": {"epochs": 40}})


def agg_run(model: str, seed: int, epochs_run: int | None, **extra) -> dict:
    return {"dataset": "toy", "setting": "10%", "model": model, "seed": seed, "test": dict.fromkeys(METRICS, 1.0),
            "val": {"mae": 1.0}, "best_epoch": epochs_run, "epochs_run": epochs_run, "parameters": 3,
            "seconds": 1.0, **extra}


def test_rows_carry_their_epoch_cap_and_the_page_shows_another() -> None:
    runs = [agg_run("gru", 0, 80, epochs=80), agg_run("gru", 1, 80, epochs=80), agg_run("stid", 0, 12),
            agg_run("ridge", 0, None)]
    rows = aggregate(runs, 40)
    assert [(r["model"], r["epoch_cap"], r["best_is_last"]) for r in rows] == [
        ("gru", 80, 2), ("stid", 40, 1), ("ridge", None, 0)]
    lines = table_lines(rows, 40)
    assert "| 80/80 / 80/80 (cap 80) |" in lines[2] and "| 12 / 12 |" in lines[3] and "| — |" in lines[4]
    assert "(cap" not in "".join(table_lines(rows))  # no default given: nothing marked
    cap, at_cap, near = _cap_lines({"meta": {"epochs": 40}, "rows": rows, "runs": runs})
    assert near.endswith("best epochs per seed: gru toy 10% (80/80 of 80).")  # STID: one seed only
    assert len(_cap_lines({"meta": {"epochs": 40}, "rows": rows, "runs": runs[2:]})) == 2  # no near line
    assert cap.startswith("- Trained with another epoch cap than 40: gru on toy 10% (80). ")
    assert "`epoch-cap.json` (40 or 80), `epoch-cap-160.json` (80 or 160), `epoch-cap-320.json` (160 or 320)" in cap
    assert at_cap.endswith("in some seeds: gru toy 10% (2 of 2), stid toy 10% (1 of 1).")
    with pytest.raises(ValueError, match=r"toy 10% gru: runs with different epoch caps \[40, 80\]"):
        aggregate([agg_run("gru", 0, 80, epochs=80), agg_run("gru", 1, 12)], 40)


def test_the_under_trained_line_names_the_rounds_that_offered_st_vlm_a_longer_cap() -> None:
    """ST-VLM's "under-trained" caveat names each round that offered the pair a longer cap than
    its runs have (their files record the choice on validation); none where no round did."""
    assert _rounds_offered("st-vlm", ("sz-taxi", "full"), 40) == (
        " (longer caps offered on validation: 80 epochs by round `own80` (`epoch-cap-own80.json`); "
        "80 epochs by round `own80-sz` (`epoch-cap-own80-sz.json`))")
    assert _rounds_offered("st-vlm", ("sz-taxi", "full"), 80) == ""  # no round offered 80 -> 160
    assert _rounds_offered("gru", ("nycbike1", "10%"), 160) == (
        " (longer caps offered on validation: 320 epochs by round `320` (`epoch-cap-320.json`))")

    def result(dataset: str, setting: str) -> dict:
        runs = [{**agg_run("st-vlm", seed, 40), "dataset": dataset, "setting": setting, "epochs_run": 40}
                for seed in (0, 1)]
        return {"meta": {"epochs": 40}, "runs": runs, "intervals": []}

    assert _epoch_caveats(result("sz-taxi", "full")) == [
        "- ST-VLM's best epoch was the last of its cap (under-trained) in: sz-taxi full"
        + _rounds_offered("st-vlm", ("sz-taxi", "full"), 40) + "."]
    assert _epoch_caveats(result("toy", "10%")) == [
        "- ST-VLM's best epoch was the last of its cap (under-trained) in: toy 10%."]


def test_only_keeps_the_merge_records_of_the_models_it_does_not_run() -> None:
    split = {"merged": [{"from": "a", "runs": {"gru": [1], "staeformer": [2, 3]}}, {"from": "b", "runs": {"gru": [4]}}]}
    assert kept_merges(split, ["gru"]) == [{"from": "a", "runs": {"staeformer": [2, 3]}}]
    assert kept_merges({}, ["gru"]) == []


def test_main_writes_the_choices_and_commands_and_refuses_missing_sweeps(tmp_path: Path, monkeypatch, capsys) -> None:
    import json

    import epoch_cap

    (tmp_path / "fewshot_accuracy.json").write_text(json.dumps({
        "git_commit": "abc", "splits": {"toy|10%": {"skipped": []}}, "meta": {"epochs": 40},
        "runs": [table_run(m, 0, 2.0, 2.0) for m in CAPPED]}))
    monkeypatch.setattr(sys, "argv", ["epoch_cap.py", "--dir", str(tmp_path)])
    with pytest.raises(SystemExit) as exit_:
        epoch_cap.main()
    assert exit_.value.code == 2 and "validation-cap-st-vlm.json" in capsys.readouterr().err
    assert not (tmp_path / "epoch-cap.json").exists()
    for model in CAPPED:  # gru better at 80 epochs, the rest worse
        mae = 1.0 if model == "gru" else 3.0
        (tmp_path / f"validation-cap-{model}.json").write_text(json.dumps({"rows": [sweep_row(model, 0, mae, mae)]}))
    assert epoch_cap.main() == 0
    out = json.loads((tmp_path / "epoch-cap.json").read_text())
    assert [(c["model"], c["epochs"]) for c in out["choices"]] == [
        ("st-vlm", SHORT), ("gru", LONG), ("stid", SHORT), ("gwnet", SHORT)]
    assert out["only_commands"] == ["python benchmarks/fewshot_accuracy.py --only gru --seeds 0 1 2 3 4 "
                                    "--epochs 80 --datasets toy --settings 10%"]
    assert out["table_commit"] == "abc" and out["rule"] == FIRST.rule
    # once the chosen runs replaced the 40-epoch ones, the reference is the table from before
    before = tmp_path / "before.json"
    (tmp_path / "fewshot_accuracy.json").rename(before)
    (tmp_path / "fewshot_accuracy.json").write_text(json.dumps({"runs": [], "splits": {}, "meta": {"epochs": 40}}))
    with pytest.raises(SystemExit):
        epoch_cap.main()
    monkeypatch.setattr(sys, "argv", ["epoch_cap.py", "--dir", str(tmp_path), "--table", str(before)])
    assert epoch_cap.main() == 0
    again = json.loads((tmp_path / "epoch-cap.json").read_text())
    assert again["choices"] == out["choices"] and again["command"].endswith(f"--table {before}")


def test_main_reads_the_second_round_files_and_writes_its_own(tmp_path: Path, monkeypatch, capsys) -> None:
    import json

    import epoch_cap

    (tmp_path / "fewshot_accuracy.json").write_text(json.dumps({
        "git_commit": "def", "splits": {"toy|10%": {}}, "meta": {"epochs": 40},
        "runs": [table_run("gru", 0, 2.0, 2.0, epochs=80)]}))
    monkeypatch.setattr(sys, "argv", ["epoch_cap.py", "--dir", str(tmp_path), "--round", "160"])
    with pytest.raises(SystemExit) as exit_:
        epoch_cap.main()
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "validation-cap160-gru.json" in err and "--sweep cap160-<model>" in err
    (tmp_path / "validation-cap160-gru.json").write_text(json.dumps({"rows": [sweep_row("gru", 0, 1.5, 1.5)]}))
    assert epoch_cap.main() == 0
    out = json.loads((tmp_path / "epoch-cap-160.json").read_text())
    assert [(c["short"], c["long"], c["epochs"]) for c in out["choices"]] == [(2.0, 1.5, 160)]
    assert out["only_commands"] == ["python benchmarks/fewshot_accuracy.py --only gru --seeds 0 1 2 3 4 "
                                    "--epochs 160 --datasets toy --settings 10%"]
    assert not (tmp_path / "epoch-cap.json").exists()


NEAR = ROUNDS["near160"]


def copy_run(model: str, dataset: str, seed: int, mae: float, epochs: int, **extra) -> dict:
    return {"dataset": dataset, "setting": "10%", "model": model, "seed": seed, "epochs": epochs,
            "val": {"mae": mae, "mae_all": mae / 2}, "test": {"mae": 9.0}, **extra}


def near_table_and_copy(tmp_path: Path) -> Path:
    """A table with the GRU's 80-epoch los-loop 10% runs (seeds 0, 1) in ``tmp_path`` and an
    empty copy folder beside it, returned."""
    import json

    table = {"git_commit": "abc", "splits": {"los-loop|10%": {}}, "meta": {"epochs": 40},
             "runs": [copy_run("gru", "los-loop", s, 3.0, 80) for s in (0, 1)]}
    (tmp_path / "fewshot_accuracy.json").write_text(json.dumps(table))
    copy = tmp_path / "copy"
    copy.mkdir()
    return copy


def write_near_copy(copy: Path) -> None:
    """The copy's 160-epoch runs of the same seeds (validation targets 1.5 and 2.25)."""
    import json

    (copy / "fewshot_accuracy.json").write_text(json.dumps({
        "git_commit": "def", "meta": {"epochs": 40},
        "runs": [copy_run("gru", "los-loop", 0, 2.0, 160), copy_run("gru", "los-loop", 1, 3.0, 160)]}))


def test_run_rows_read_the_validation_metrics_of_the_rounds_longer_cap_runs_in_copies() -> None:
    a = {"meta": {"epochs": 40}, "runs": [
        copy_run("gru", "los-loop", 0, 2.0, 160), copy_run("gru", "los-loop", 1, 4.0, 80),  # the shorter cap
        copy_run("gru", "nycbike1", 0, 1.0, 160),  # not a pair of the round's GRU
        copy_run("stid", "nycbike1", 0, 3.0, 160)]}
    b = {"meta": {"epochs": 40}, "runs": [copy_run("gru", "los-loop", 0, 2.0, 160), copy_run("gru", "los-loop", 2, 6.0, 160)]}
    assert run_rows([("a", a), ("b", b)], NEAR) == [
        {"model": "gru", "dataset": "los-loop", "setting": "10%", "seed": 0, "val_mae": 2.0, "val_mae_all": 1.0, "from": "a"},
        {"model": "stid", "dataset": "nycbike1", "setting": "10%", "seed": 0, "val_mae": 3.0, "val_mae_all": 1.5, "from": "a"},
        {"model": "gru", "dataset": "los-loop", "setting": "10%", "seed": 2, "val_mae": 6.0, "val_mae_all": 3.0, "from": "b"}]
    other = {"meta": {"epochs": 40}, "runs": [copy_run("gru", "los-loop", 0, 2.5, 160)]}
    with pytest.raises(ValueError, match="gru los-loop 10% seed 0: a and c hold other validation metrics"):
        run_rows([("a", a), ("c", other)], NEAR)
    with pytest.raises(ValueError, match="no 160-epoch run of the round's pairs in c"):
        run_rows([("c", {"meta": {"epochs": 40}, "runs": [copy_run("gru", "los-loop", 0, 2.0, 80)]})], NEAR)


def test_main_reads_a_near_rounds_runs_from_copies(tmp_path: Path, monkeypatch, capsys) -> None:
    import json

    import epoch_cap

    copy = near_table_and_copy(tmp_path)
    monkeypatch.setattr(sys, "argv", ["epoch_cap.py", "--dir", str(tmp_path), "--round", "near160", "--runs", str(copy)])
    with pytest.raises(SystemExit) as exit_:
        epoch_cap.main()
    assert exit_.value.code == 2 and "--only commands there first" in capsys.readouterr().err
    write_near_copy(copy)
    assert epoch_cap.main() == 0
    out = json.loads((tmp_path / "epoch-cap-near160.json").read_text())
    # (2.0 + 1.0) / 2 and (3.0 + 1.5) / 2 at 160: 1.875 against 2.25 at 80
    assert [(c["seeds"], c["short"], c["long"], c["epochs"]) for c in out["choices"]] == [([0, 1], 2.25, 1.875, 160)]
    assert out["runs_from"] == {str(copy): "def"} and out["only_commands"] == [
        "python benchmarks/fewshot_accuracy.py --only gru --seeds 0 1 2 3 4 --epochs 160 --datasets los-loop --settings 10%"]
    assert [(r["seed"], r["val_mae"], r["val_mae_all"], r["from"]) for r in out["runs"]] == [
        (0, 2.0, 1.0, str(copy)), (1, 3.0, 1.5, str(copy))]  # per seed, kept even when the cap is not taken


def test_choice_differences_name_each_pair_and_field_that_differs() -> None:
    from epoch_cap import choice_differences

    def choice(model: str, long: float, epochs: int, seeds: tuple[int, ...] = (0, 1)) -> dict:
        return {"model": model, "dataset": "toy", "setting": "10%", "seeds": list(seeds),
                "short": 2.0, "long": long, "epochs": epochs}

    assert choice_differences([choice("gru", 1.5, 160)], [choice("gru", 1.5, 160)]) == []
    assert choice_differences([choice("gru", 1.25, 160, (0,)), choice("stid", 3.0, 80)],
                              [choice("gru", 1.5, 160), choice("gwnet", 3.0, 80)]) == [
        "stid toy 10%: only recomputed", "gwnet toy 10%: only committed",
        "gru toy 10%: seeds [0] recomputed, [0, 1] committed", "gru toy 10%: long 1.25 recomputed, 1.5 committed"]


def test_main_check_compares_with_the_round_file_and_writes_nothing(tmp_path: Path, monkeypatch, capsys, caplog) -> None:
    import json

    import epoch_cap

    (tmp_path / "fewshot_accuracy.json").write_text(json.dumps({
        "git_commit": "def", "splits": {"toy|10%": {}}, "meta": {"epochs": 40},
        "runs": [table_run("gru", 0, 2.0, 2.0, epochs=80)]}))
    (tmp_path / "validation-cap160-gru.json").write_text(json.dumps({"rows": [sweep_row("gru", 0, 1.5, 1.5)]}))
    argv = ["epoch_cap.py", "--dir", str(tmp_path), "--round", "160", "--check"]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_:
        epoch_cap.main()
    assert exit_.value.code == 2 and "--check: no round file" in capsys.readouterr().err
    monkeypatch.setattr(sys, "argv", argv[:-1])
    assert epoch_cap.main() == 0
    written = (tmp_path / "epoch-cap-160.json").read_text()
    monkeypatch.setattr(sys, "argv", argv)
    assert epoch_cap.main() == 0
    (tmp_path / "validation-cap160-gru.json").write_text(json.dumps({"rows": [sweep_row("gru", 0, 2.5, 2.5)]}))
    with caplog.at_level("INFO"):
        assert epoch_cap.main() == 1  # 80 kept now: long and epochs differ
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("differs")] == [
        "differs: gru toy 10%: long 2.5 recomputed, 1.5 committed",
        "differs: gru toy 10%: epochs 80 recomputed, 160 committed"]
    assert (tmp_path / "epoch-cap-160.json").read_text() == written


def test_main_check_recorded_reads_the_round_files_own_per_seed_runs(tmp_path: Path, monkeypatch, capsys) -> None:
    import json

    import epoch_cap

    copy = near_table_and_copy(tmp_path)
    write_near_copy(copy)
    base = ["epoch_cap.py", "--dir", str(tmp_path), "--round", "near160"]
    for extra, message in [(["--recorded"], "--recorded: only with --check"),
                           (["--check", "--recorded", "--runs", str(copy)], "not with --runs")]:
        monkeypatch.setattr(sys, "argv", base + extra)
        with pytest.raises(SystemExit) as exit_:
            epoch_cap.main()
        assert exit_.value.code == 2 and message in capsys.readouterr().err
    monkeypatch.setattr(sys, "argv", base + ["--runs", str(copy)])
    assert epoch_cap.main() == 0  # writes the round file with its per-seed runs
    monkeypatch.setattr(sys, "argv", base + ["--check", "--recorded"])
    assert epoch_cap.main() == 0
    path = tmp_path / "epoch-cap-near160.json"
    written = json.loads(path.read_text())
    path.write_text(json.dumps({**written, "runs": [{**written["runs"][0], "val_mae": 4.0}, written["runs"][1]]}))
    assert epoch_cap.main() == 1  # the recorded seed 0 no longer gives the recorded choice
    path.write_text(json.dumps({k: v for k, v in written.items() if k != "runs"}))
    with pytest.raises(SystemExit) as exit_:
        epoch_cap.main()
    assert exit_.value.code == 2 and "records no per-seed runs" in capsys.readouterr().err
