"""``benchmarks/validation_runs.py`` and its sweeps: the adoption rule, ``--rule`` and ``--merge``
on sweep files, every candidate's configs, and an interrupted sweep resumed."""

from __future__ import annotations

from pathlib import Path

import pytest

from stvlm.errors import ConfigError


def test_the_sweep_adoption_rule_on_tiny_rows() -> None:
    """``meets_rule``: seed means of the mean of masked and all-entries validation MAE, over the
    seeds both candidates ran; no worse on any pair and better on at least one."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from validation_runs import meets_rule, target_metric

    def row(pair: str, cand: str, seed: int, masked: float, every: float) -> dict:
        return {"dataset": pair, "setting": "10%", "candidate": cand, "seed": seed,
                "val_mae": masked, "val_mae_all": every}

    assert target_metric(row("a", "x", 0, 2.0, 1.5)) == 1.75
    rows = [row("a", "ref", 0, 2.0, 1.0), row("a", "ref", 1, 3.0, 2.0), row("a", "new", 0, 2.0, 0.5),
            row("a", "new", 1, 3.0, 2.5), row("b", "ref", 0, 4.0, 4.0), row("b", "new", 0, 4.0, 4.0),
            row("b", "new", 1, 1.0, 1.0)]  # seed 1 of b ran only the candidate: not compared
    verdict = meets_rule(rows, "ref", "new")
    assert verdict == {"pairs": {"a 10%": (2.0, 2.0), "b 10%": (4.0, 4.0)}, "better": 0, "meets": False}
    rows[2]["val_mae_all"] = 0.4  # a: 2.0 -> 1.975
    assert meets_rule(rows, "ref", "new") == {"pairs": {"a 10%": (2.0, 1.975), "b 10%": (4.0, 4.0)},
                                              "better": 1, "meets": True}
    rows[5]["val_mae"] = 4.2  # b: worse by 0.1
    assert meets_rule(rows, "ref", "new")["meets"] is False
    import pytest

    with pytest.raises(ValueError, match="no pair ran both 'ref' and 'other'"):
        meets_rule(rows, "ref", "other")


def test_rule_check_applies_the_rule_to_a_sweep_file_and_refuses_what_it_cannot(tmp_path, monkeypatch, capsys,
                                                                                caplog) -> None:
    """``validation_runs --sweep S --rule REF CAND``: trains nothing, logs each pair's two means and
    the verdict; a label outside the sweep, a missing file or labels with no shared pair stop
    with status 2 and say why."""
    import json
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import validation_runs

    def row(cand: str, seed: int, mae: float) -> dict:
        return {"dataset": "sz-taxi", "setting": "full", "candidate": cand, "seed": seed,
                "val_mae": mae, "val_mae_all": mae}

    path = tmp_path / "sweep.json"

    def run(*rule: str) -> int:
        monkeypatch.setattr(sys, "argv", ["validation_runs.py", "--sweep", "gru-sz-taxi-full", "--out", str(path),
                                          "--rule", *rule])
        caplog.clear()
        with caplog.at_level("WARNING"):
            return validation_runs.main()

    for rule, message in [(("as in the table", "3 layers"), "'3 layers' not a candidate of --sweep "
                           "gru-sz-taxi-full (its candidates: 'as in the table', 'hidden 128', '2 layers', 'lr 3e-4')"),
                          (("as in the table", "2 layers"), f"--rule: no such file: {path}")]:
        with pytest.raises(SystemExit) as exit_:
            run(*rule)
        assert exit_.value.code == 2 and message in capsys.readouterr().err
    path.write_text(json.dumps({"rows": [row("as in the table", 0, 3.0), row("as in the table", 1, 2.0),
                                         row("2 layers", 0, 2.5), row("2 layers", 1, 2.0), row("lr 3e-4", 0, 3.5)]}))
    assert run("as in the table", "2 layers") == 0
    assert [r.getMessage() for r in caplog.records] == [
        "sz-taxi full: 'as in the table' 2.5000, '2 layers' 2.2500 (mean validation target over the seeds both ran)",
        "'2 layers' meets the rule against 'as in the table' (no worse on any pair, better on one at least): "
        "better on 1 of 1"]
    assert run("as in the table", "lr 3e-4") == 0  # seed 0 only: 3.0 against 3.5
    assert caplog.records[-1].getMessage().startswith("'lr 3e-4' does not meet the rule")
    with pytest.raises(SystemExit) as exit_:
        run("as in the table", "hidden 128")
    assert exit_.value.code == 2 and "no pair ran both 'as in the table' and 'hidden 128'" in capsys.readouterr().err


def test_merging_per_seed_sweep_files_in_the_order_of_one_run(tmp_path, monkeypatch, capsys) -> None:
    """``validation_runs --merge``: rows of per-seed files come out in the order a single run of
    every seed writes them (pair, candidate, seed), with each file's commit and command kept; a
    row of another sweep or a repeated seed is a one-line error that names the file."""
    import json
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import validation_runs

    def row(dataset: str, setting: str, cand: str, seed: int) -> dict:
        return {"dataset": dataset, "setting": setting, "candidate": cand, "seed": seed}

    one = {"git_commit": "aaa", "device": "cpu", "command": "run 1", "versions": {"torch": "x"},
           "rows": [row("nycbike-drop", "10%", "MLP head 64", 1), row("los-loop", "10%", "MLP head 32", 1),
                    row("los-loop", "10%", "MLP head 64", 1)]}
    zero = {"git_commit": "bbb", "device": "cpu", "command": "run 0", "note": "n",
            "rows": [row("los-loop", "10%", "MLP head 32", 0), row("nycbike-drop", "10%", "MLP head 64", 0),
                     row("los-loop", "10%", "MLP head 64", 0)]}
    merged = validation_runs.merge_runs("head-width", [("one.json", one), ("zero.json", zero)])
    assert [(r["dataset"], r["candidate"], r["seed"]) for r in merged["rows"]] == [
        ("los-loop", "MLP head 64", 0), ("los-loop", "MLP head 64", 1), ("los-loop", "MLP head 32", 0),
        ("los-loop", "MLP head 32", 1), ("nycbike-drop", "MLP head 64", 0), ("nycbike-drop", "MLP head 64", 1)]
    assert (merged["git_commit"], merged["versions"], merged["command"]) == (
        "aaa", {"torch": "x"}, "python benchmarks/validation_runs.py --sweep head-width --seeds 0 1")
    assert merged["merged_from"] == [
        {"file": "one.json", "git_commit": "aaa", "device": "cpu", "command": "run 1", "seeds": [1]},
        {"file": "zero.json", "git_commit": "bbb", "device": "cpu", "command": "run 0", "seeds": [0], "note": "n"}]
    with pytest.raises(ValueError, match="zero.json: los-loop 10% 'MLP head 64' seed 1 is already in an earlier file"):
        validation_runs.merge_runs("head-width", [("one.json", one), ("zero.json", {**zero, "rows": one["rows"][2:]})])
    with pytest.raises(ValueError, match="one.json: row nycbike-drop 10% 'MLP head 64' is not in sweep 'ema'"):
        validation_runs.merge_runs("ema", [("one.json", one)])
    long = [("one.json", {**one, "command": "python benchmarks/validation_runs.py --epochs 80 --seeds 1"}),
            ("zero.json", {**zero, "rows": [{**r, "epochs": 80} for r in zero["rows"]]})]
    assert validation_runs.merge_runs("head-width", long)["command"] == (
        "python benchmarks/validation_runs.py --sweep head-width --epochs 80 --seeds 0 1")
    with pytest.raises(ValueError, match="zero.json: ran 40 epochs, the first file 80"):
        validation_runs.merge_runs("head-width", [long[0], ("zero.json", zero)])
    with pytest.raises(ValueError, match=r"zero.json: rows ran with different epoch caps \[40, 80\]"):
        validation_runs.merge_runs("head-width", [("zero.json", {**zero, "rows": [
            {**zero["rows"][0], "epochs": 40}, {**zero["rows"][1], "epochs": 80}]})])

    for name, run in (("one.json", one), ("zero.json", zero)):
        (tmp_path / name).write_text(json.dumps(run))
    out = tmp_path / "merged.json"
    argv = ["validation_runs.py", "--sweep", "head-width", "--out", str(out), "--merge",
            str(tmp_path / "one.json"), str(tmp_path / "zero.json")]
    monkeypatch.setattr(sys, "argv", argv)
    assert validation_runs.main() == 0
    written = json.loads(out.read_text())
    assert written["rows"] == merged["rows"] and written["merge_command"].endswith("zero.json")
    monkeypatch.setattr(sys, "argv", argv[:-1] + [str(tmp_path / "absent.json")])
    with pytest.raises(SystemExit) as exit_:
        validation_runs.main()
    assert exit_.value.code == 2 and "--merge: no such file:" in capsys.readouterr().err
    (tmp_path / "other.json").write_text("{}")
    monkeypatch.setattr(sys, "argv", argv[:-1] + [str(tmp_path / "other.json")])
    with pytest.raises(SystemExit) as exit_:
        validation_runs.main()
    assert exit_.value.code == 2 and "has no 'rows' field: not a validation_runs output" in capsys.readouterr().err
    assert json.loads(out.read_text()) == written  # nothing already written is lost


def test_every_validation_sweep_candidate_builds_valid_configs() -> None:
    """Each candidate of ``validation_sweeps.SWEEPS`` names real settings: its training changes make
    a ``TrainConfig`` with the sweep model's settings, its model changes apply to the benchmark's
    ST-VLM config (dotted paths) or build the sweep's baseline (its options), and its data
    changes to a ``DataConfig``; labels are unique within a sweep and pairs are the benchmark's.
    A misspelt key fails here, not after an hour."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from fewshot_setup import SETTINGS, STVLM_MODEL, train_settings
    from sweep_candidates import Candidate
    from validation_sweeps import SWEEPS

    from stvlm.baselines import build_baseline
    from stvlm.configs import DataConfig, TrainConfig
    from stvlm.configs.model import STVLMConfig

    assert {"capacity", "batch"} <= set(SWEEPS)
    for name, (pairs, model, candidates) in SWEEPS.items():
        assert pairs and all(setting in SETTINGS for _, setting in pairs), name
        labels = [Candidate(*c).label for c in candidates]
        assert len(set(labels)) == len(labels), name
        for cand in (Candidate(*c) for c in candidates):
            TrainConfig(**{**train_settings(model), **cand.train})
            if model == "st-vlm":
                assert isinstance(STVLM_MODEL.with_values(cand.model), STVLMConfig)
            else:  # a baseline's options, validated by its config
                assert build_baseline(model, cand.model).name == model
            DataConfig(dataset="los-loop").with_values(cand.data)
    changed = STVLM_MODEL.with_values(dict(SWEEPS["capacity"][2][3][2]))
    assert (changed.finetune.strategy, changed.finetune.trainable_layers) == ("pfa", 2)
    with pytest.raises(ConfigError, match="unknown key head.hiden"):
        STVLM_MODEL.with_values({"head.hiden": 64})
    assert dict(SWEEPS["gru-sz-taxi-full"][2][1][2]) == {"hidden": 128}
    assert build_baseline("gru", {"hidden": 128, "layers": 2}).cfg.hidden == 128
    with pytest.raises(ConfigError, match="hiden"):
        build_baseline("gru", {"hiden": 128})


def test_an_interrupted_sweep_resumes_from_its_rows_and_an_unfinished_file_is_refused(
        tmp_path, monkeypatch, capsys, data_root) -> None:
    """``validation_runs`` writes each row as it finishes (``complete`` false until the last): the
    same command at the same commit and device, run again, keeps those rows and trains only the
    rest, ending with the file an uninterrupted run writes; ``--rule`` and ``--merge`` refuse the
    unfinished file, and another commit starts over."""
    import json
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import validation_runs

    monkeypatch.setitem(validation_runs.SWEEPS, "tiny-ridge", ((("los-loop", "10%"),), "ridge", (
        ("alpha 3,000", {}, {}), ("alpha 30", {}, {"alpha": 30.0}))))
    out = tmp_path / "sweep.json"
    argv = ["validation_runs.py", "--sweep", "tiny-ridge", "--data-root", str(data_root), "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    clean = {"versions": {}, "git_commit": "abc", "device": "cpu (test)", "command": "x"}
    monkeypatch.setattr(validation_runs, "provenance", lambda: dict(clean))
    assert validation_runs.main() == 0
    whole = json.loads(out.read_text())
    assert "complete" not in whole and [r["candidate"] for r in whole["rows"]] == ["alpha 3,000", "alpha 30"]

    real, calls = validation_runs.validation_row, []

    def interrupted(*args, **kwargs):
        if calls:
            raise KeyboardInterrupt
        calls.append(kwargs["model_changes"])
        return real(*args, **kwargs)

    out.unlink()
    monkeypatch.setattr(validation_runs, "validation_row", interrupted)
    with pytest.raises(KeyboardInterrupt):
        validation_runs.main()
    partial = json.loads(out.read_text())
    assert partial["complete"] is False and partial["rows"] == whole["rows"][:1]
    for flag in (["--rule", "alpha 3,000", "alpha 30"], ["--merge", str(out)]):
        monkeypatch.setattr(sys, "argv", [*argv[:-1], str(tmp_path / "merged.json") if flag[0] == "--merge"
                                          else str(out), *flag])
        with pytest.raises(SystemExit) as exit_:
            validation_runs.main()
        assert exit_.value.code == 2 and f"{out} is an interrupted run (complete: false)" in capsys.readouterr().err

    calls.clear()
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setattr(validation_runs, "validation_row", lambda *a, **k: calls.append(k["model_changes"]) or real(*a, **k))
    assert validation_runs.main() == 0
    assert calls == [{"alpha": 30.0}]  # the first row was kept, not trained again
    assert json.loads(out.read_text()) == whole

    out.write_text(json.dumps(partial))  # an unfinished file of other code starts over
    monkeypatch.setattr(validation_runs, "provenance", lambda: {**clean, "git_commit": "def"})
    calls.clear()
    assert validation_runs.main() == 0
    assert calls == [{}, {"alpha": 30.0}]


def test_epochs_table_runs_each_pair_at_its_cap_in_the_accuracy_table(tmp_path, monkeypatch, capsys) -> None:
    """``--epochs table``: each pair trains at the cap its model has in the accuracy table (the
    epoch-cap check's longer ones included), read before anything trains; a pair the table has
    no trained run of, or runs with two caps, is a one-line error; files merged keep the mode
    and refuse a pair that ran at two caps."""
    import json
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import sweep_merge
    import validation_runs

    def run(model: str, dataset: str, seed: int, **extra) -> dict:
        return {"model": model, "dataset": dataset, "setting": "10%", "seed": seed, "epochs_run": 3, **extra}

    table = {"meta": {"epochs": 40}, "runs": [
        run("st-vlm", "los-loop", 0, epochs=80), run("st-vlm", "los-loop", 1, epochs=80),
        run("st-vlm", "sz-taxi", 0), run("ridge", "sz-taxi", 0, epochs_run=None),
        run("gru", "sz-taxi", 0, epochs=80), run("gru", "sz-taxi", 1)]}
    path = tmp_path / "fewshot_accuracy.json"
    path.write_text(json.dumps(table))
    pairs = (("los-loop", "10%"), ("sz-taxi", "10%"))
    assert validation_runs.sweep_caps("table", "st-vlm", pairs, path) == {
        ("los-loop", "10%"): 80, ("sz-taxi", "10%"): 40}
    assert validation_runs.sweep_caps(160, "st-vlm", pairs, path) == {pair: 160 for pair in pairs}
    with pytest.raises(ValueError, match="^ridge sz-taxi 10%: the table has no trained run of it to take a cap from$"):
        validation_runs.sweep_caps("table", "ridge", pairs[1:], path)
    with pytest.raises(ValueError, match=r"^gru sz-taxi 10%: runs with caps \[40, 80\]$"):
        validation_runs.sweep_caps("table", "gru", pairs[1:], path)

    assert [validation_runs.epochs_option(v) for v in ("table", "80")] == ["table", 80]
    for bad in ("0", "-5", "forty"):
        with pytest.raises(validation_runs.argparse.ArgumentTypeError, match=f"'{bad}' is neither"):
            validation_runs.epochs_option(bad)
    out = tmp_path / "sweep.json"
    monkeypatch.setattr(sys, "argv", ["validation_runs.py", "--sweep", "lookback", "--epochs", "table",
                                      "--data-root", str(tmp_path), "--out", str(out)])
    monkeypatch.setattr(validation_runs, "check_data_root", lambda *a: None)
    with pytest.raises(SystemExit) as exit_:
        validation_runs.main()  # the lookback sweep trains ridge: no cap in any table
    assert exit_.value.code == 2 and "--epochs table: ridge " in capsys.readouterr().err and not out.exists()

    def row(dataset: str, seed: int, epochs: int) -> dict:
        return {"dataset": dataset, "setting": "10%", "candidate": "MLP head 64", "seed": seed, "epochs": epochs}

    command = "python benchmarks/validation_runs.py --sweep head-width --epochs table --seeds {}"
    zero = {"command": command.format(0), "rows": [row("los-loop", 0, 80), row("nycbike-drop", 0, 160)]}
    one = {"command": command.format(1), "rows": [row("los-loop", 1, 80), row("nycbike-drop", 1, 160)]}
    assert sweep_merge.epochs_of("zero.json", zero) == "table"
    merged = validation_runs.merge_runs("head-width", [("zero.json", zero), ("one.json", one)])
    assert merged["command"] == "python benchmarks/validation_runs.py --sweep head-width --epochs table --seeds 0 1"
    with pytest.raises(ValueError, match="^one.json: nycbike-drop 10% ran 40 epochs, an earlier row 160$"):
        validation_runs.merge_runs("head-width", [("zero.json", zero), (
            "one.json", {**one, "rows": [row("los-loop", 1, 80), row("nycbike-drop", 1, 40)]})])
    with pytest.raises(ValueError, match="^one.json: ran 40 epochs, the first file table$"):
        validation_runs.merge_runs("head-width", [("zero.json", zero), ("one.json", {"rows": [row("los-loop", 1, 40)]})])
