"""Every bad-input case of issue 11, table driven: exit status 2, one line naming the problem, no
traceback, and nothing run first. Non-finite values are data, not bad input: they score."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from harness.cli.main import main
from tests.load import patient

REPO = Path(__file__).resolve().parents[2]


def _byo(root: Path, name: str, values: np.ndarray) -> Path:
    """A bring-your-own dataset folder ``root/name`` (hourly, one flow channel)."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "values.npy", values.astype(np.float32))
    (folder / "dataset.toml").write_text(
        f'name = "{name}"\ninterval_minutes = 60\nchannels = ["flow"]\nunits = ["veh/h"]\n'
    )
    return root


def _series(kind: str) -> np.ndarray:
    """600 hourly steps x 10 nodes = 6,000 cells, 100 of them NaN / Inf / all NaN."""
    rng = np.random.default_rng(0)
    values = rng.random((600, 10, 1)) * 20
    flat = values.reshape(-1)
    cells = rng.choice(flat.size, 100, replace=False)
    if kind == "all-nan":
        flat[:] = np.nan
    else:
        flat[cells] = {"nan": np.nan, "inf": np.inf}[kind]
    return values


def _all_nan(tmp: Path, data_root: Path) -> list[str]:
    root = _byo(tmp, "allnan", _series("all-nan"))
    return ["evaluate", "--dataset", "allnan", "--model", "ridge", "--data-root", str(root)]


def _json_is_a_directory(tmp: Path, data_root: Path) -> list[str]:
    return ["evaluate", "--dataset", "los-loop", "--model", "ridge", "--data-root", str(data_root),
            "--json", str(tmp)]


def _json_folder_missing(tmp: Path, data_root: Path) -> list[str]:
    return ["evaluate", "--dataset", "los-loop", "--model", "ridge", "--data-root", str(data_root),
            "--json", str(tmp / "nope" / "m.json")]


def _json_folder_is_a_file(tmp: Path, data_root: Path) -> list[str]:
    (tmp / "f.txt").write_text("x")
    return ["evaluate", "--dataset", "los-loop", "--model", "ridge", "--data-root", str(data_root),
            "--json", str(tmp / "f.txt" / "m.json")]


def _train_out_is_a_file(tmp: Path, data_root: Path) -> list[str]:
    (tmp / "f.txt").write_text("x")
    return ["train", "--out", str(tmp / "f.txt"), "--data-root", str(data_root)]


def _report_out_is_a_file(tmp: Path, data_root: Path) -> list[str]:
    (tmp / "f.txt").write_text("x")
    return ["report", str(tmp), "--out", str(tmp / "f.txt")]


def _misspelled_nested_key(tmp: Path, data_root: Path) -> list[str]:
    return ["train", "--set", "model.fusion.dpeth=2", "--data-root", str(data_root)]


def _unknown_monitor(tmp: Path, data_root: Path) -> list[str]:
    return ["train", "--set", "train.monitor=accuracy", "--data-root", str(data_root), "--out", str(tmp / "run")]


def _monitor_before_data(tmp: Path, data_root: Path) -> list[str]:
    """A data root without the dataset's files: the monitor is refused before the data is read."""
    (tmp / "empty").mkdir()
    return ["train", "--dataset", "los-loop", "--set", "train.monitor=mea", "--data-root", str(tmp / "empty"),
            "--out", str(tmp / "run")]


def _name_outside(tmp: Path, data_root: Path) -> list[str]:
    return ["train", "--set", "name=../../outside", "--data-root", str(data_root)]


def _huge_epochs(tmp: Path, data_root: Path) -> list[str]:
    return ["train", "--set", f"train.epochs={'9' * 400}", "--data-root", str(data_root)]


def _ratio_with_budget(tmp: Path, data_root: Path) -> list[str]:
    return ["train", "--few-shot", "0.05", "--budget", "st-llm-10%", "--data-root", str(data_root)]


def _train_set_for_ridge(tmp: Path, data_root: Path) -> list[str]:
    return ["evaluate", "--dataset", "los-loop", "--model", "ridge", "--set", "train.epochs=3",
            "--data-root", str(data_root)]


def _evaluate_without_a_model(tmp: Path, data_root: Path) -> list[str]:
    return ["evaluate", "--dataset", "los-loop", "--data-root", str(data_root)]


def _builtin_name_reused(tmp: Path, data_root: Path) -> list[str]:
    root = _byo(tmp, "los-loop-mine", _series("nan"))
    toml = root / "los-loop-mine" / "dataset.toml"
    toml.write_text(toml.read_text().replace('name = "los-loop-mine"', 'name = "los-loop"'))
    return ["evaluate", "--dataset", "los-loop", "--model", "ridge", "--data-root", str(root)]


def _predict_without_checkpoint(tmp: Path, data_root: Path) -> list[str]:
    return ["predict", "--checkpoint", str(tmp / "run" / "checkpoint"), "--out", str(tmp / "p.npz")]


def _checkpoint_with_a_protocol(tmp: Path, data_root: Path) -> list[str]:
    return ["evaluate", "--checkpoint", str(tmp), "--protocol", "tgcn"]


def _predict_out_folder_missing(tmp: Path, data_root: Path) -> list[str]:
    return ["predict", "--checkpoint", str(tmp), "--out", str(tmp / "nope" / "p.npz")]


# (id, argv builder, the whole error line after "stvlm: error: " with {tmp} for the folder)
CASES: list[tuple[str, Callable[[Path, Path], list[str]], str]] = [
    ("all-nan-values", _all_nan,
     "dataset 'allnan': values has no finite entry (6,000 NaN, 0 Inf of 6,000 entries)"),
    ("json-is-a-directory", _json_is_a_directory, "--json '{tmp}' is a directory; give a file path"),
    ("json-folder-missing", _json_folder_missing,
     "--json '{tmp}/nope/m.json': folder '{tmp}/nope' does not exist"),
    ("json-folder-is-a-file", _json_folder_is_a_file,
     "--json '{tmp}/f.txt/m.json': '{tmp}/f.txt' is not a folder"),
    ("train-out-is-a-file", _train_out_is_a_file, "--out '{tmp}/f.txt' is a file; give a folder"),
    ("report-out-is-a-file", _report_out_is_a_file, "--out '{tmp}/f.txt' is a file; give a folder"),
    ("misspelled-nested-key", _misspelled_nested_key,
     "override: unknown key model.fusion.dpeth = 2; allowed in model.fusion: depth, heads, "
     "spatial_bias, bias_sigma"),
    ("unknown-monitor", _unknown_monitor,
     "train.monitor = 'accuracy' is not a validation metric of protocol 'standard'; allowed: "
     "mae, mae_all, mae_all_h12, mae_all_h3, mae_all_h6, mae_h12, "
     "mae_h3, mae_h6, mape, mape_h12, mape_h3, mape_h6, rmse, rmse_all, rmse_all_h12, rmse_all_h3, "
     "rmse_all_h6, rmse_h12, rmse_h3, rmse_h6, wape, wape_all, wape_all_h12, wape_all_h3, "
     "wape_all_h6, wape_h12, wape_h3, wape_h6, or a mean: mae_both"),
    ("monitor-before-data", _monitor_before_data,
     "train.monitor = 'mea' is not a validation metric of protocol 'standard'; allowed: "
     "mae, mae_all, mae_all_h12, mae_all_h3, mae_all_h6, mae_h12, "
     "mae_h3, mae_h6, mape, mape_h12, mape_h3, mape_h6, rmse, rmse_all, rmse_all_h12, rmse_all_h3, "
     "rmse_all_h6, rmse_h12, rmse_h3, rmse_h6, wape, wape_all, wape_all_h12, wape_all_h3, "
     "wape_all_h6, wape_h12, wape_h3, wape_h6, or a mean: mae_both"),
    ("name-outside-the-runs-folder", _name_outside,
     "name = '../../outside' is not allowed; it names an output folder: give a non-empty label "
     "without '/', '\\' or control characters, other than '.' and '..'"),
    ("huge-epochs", _huge_epochs,
     "train.epochs = 999999999999999999...999999999999999999 (400 digits) is out of range; allowed: "
     ">= 1 and at most 9223372036854775807 in size"),
    ("ratio-with-budget", _ratio_with_budget,
     "data.few_shot.ratio = 0.05 cannot be set together with budget (which overrides it); give one of them"),
    ("train-set-for-ridge", _train_set_for_ridge,
     "--set train.epochs does not apply to 'ridge', which trains no network; train.* settings apply "
     "to: gru, stid, gwnet, staeformer"),
    ("evaluate-without-a-model", _evaluate_without_a_model,
     "stvlm evaluate needs --dataset and --model, or --checkpoint DIR"),
    ("builtin-name-reused", _builtin_name_reused,
     "{tmp}/los-loop-mine/dataset.toml: name 'los-loop' is a built-in dataset; choose another name"),
    ("predict-without-checkpoint", _predict_without_checkpoint,
     "{tmp}/run/checkpoint is not a checkpoint folder: experiment.json is missing"),
    ("checkpoint-with-a-protocol", _checkpoint_with_a_protocol,
     "--protocol does not apply with --checkpoint: a checkpoint is scored on the data selection and "
     "protocol it was trained with (its experiment.json)"),
    ("predict-out-folder-missing", _predict_out_folder_missing,
     "--out '{tmp}/nope/p.npz': folder '{tmp}/nope' does not exist"),
]


@pytest.mark.parametrize(("case", "argv", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path: Path, data_root: Path, case: str,
                                          argv: Callable[[Path, Path], list[str]], expected: str) -> None:
    code = main(argv(tmp_path, data_root))
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert "Traceback" not in err + out
    assert err.strip().splitlines() == ["stvlm: error: " + expected.format(tmp=tmp_path)]


def test_unwritable_json_folder_is_refused_before_any_work(capsys, tmp_path: Path, data_root: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code = main(["evaluate", "--dataset", "los-loop", "--model", "ridge", "--data-root",
                     str(data_root), "--json", str(locked / "m.json")])
    finally:
        locked.chmod(0o700)
    _, err = capsys.readouterr()
    assert code == 2
    assert err.strip().splitlines() == [
        f"stvlm: error: --json '{locked}/m.json': folder '{locked}' is not writable"
    ]


@pytest.mark.parametrize("kind", ["nan", "inf"])
def test_nan_and_inf_values_are_data_that_scores(capsys, tmp_path: Path, kind: str) -> None:
    root = _byo(tmp_path, "holes", _series(kind))
    code = main(["data", "info", "holes", "--data-root", str(root), "--json"])
    record = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (record["nan_entries"], record["inf_entries"]) == ((100, 0) if kind == "nan" else (0, 100))
    out_file = tmp_path / "m.json"
    code = main(["evaluate", "--dataset", "holes", "--model", "ridge", "--data-root", str(root),
                 "--json", str(out_file)])
    out, err = capsys.readouterr()
    assert code == 0, err
    words = "100 NaN, 0 Inf" if kind == "nan" else "0 NaN, 100 Inf"
    assert f"non-finite values: {words} of 6,000 entries; never scored as targets" in out
    metrics = json.loads(out_file.read_text())["metrics"]["test"]
    assert metrics and all(np.isfinite(v) for v in metrics.values())


def test_study_script_refuses_a_storage_without_its_driver_at_once() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "studies" / "fewshot.py"), "--smoke-test", "--optuna-storage",
         "mysql://x"], capture_output=True, text=True, cwd=REPO, timeout=patient(600),
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "fewshot.py: error: optuna_storage = 'mysql://x' needs the database driver 'MySQLdb', "
        "which is not installed; run: pip install mysqlclient"
    ]


def test_study_script_refuses_a_metric_its_protocol_does_not_report(data_root: Path, tmp_path: Path) -> None:
    """The spec allows val_accuracy (a T-GCN metric); the standard protocol does not report it.
    Before, Ray started and every trial failed on its first report with a traceback."""
    spec = (REPO / "studies" / "configs" / "fewshot-cpu.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(spec.replace('metric = "val_mae"', 'metric = "val_accuracy"').replace('mode = "min"', 'mode = "max"'))
    proc = subprocess.run(
        [sys.executable, str(REPO / "studies" / "fewshot.py"), "--config", str(bad), "--smoke-test",
         "--data-root", str(data_root), "--results-dir", str(tmp_path / "results")],
        capture_output=True, text=True, cwd=REPO, timeout=patient(600),
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "fewshot.py: error: metric = 'val_accuracy' is not reported under protocol 'standard'; allowed: "
        "val_mae, val_rmse, val_mape, val_wape, val_mae_all, val_rmse_all, val_wape_all, "
        "val_mae_both (and val_<metric>_h<k> for k in 3, 6, 12)"
    ]
    assert not (tmp_path / "results").exists()  # nothing written, no trial started


def test_a_missing_config_is_reported_before_torch_is_imported(tmp_path: Path) -> None:
    """Validation before heavy imports: the error costs a fraction of a second, not 5-30 s."""
    probe = (
        "import sys\n"
        "from harness.cli.main import main\n"
        "sys.path.insert(0, 'studies')\n"
        "import hpo\n"
        f"assert main(['train', '--config', {str(tmp_path / 'nope.toml')!r}]) == 2\n"
        f"assert hpo.main(['--config', {str(tmp_path / 'nope.toml')!r}]) == 2\n"
        "assert 'torch' not in sys.modules and 'ray' not in sys.modules, 'heavy import first'\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True,
                          timeout=patient(120))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"stvlm: error: config file {tmp_path / 'nope.toml'} does not exist",
        f"hpo.py: error: study config {tmp_path / 'nope.toml'} does not exist",
    ]


def test_a_missing_data_root_or_checkpoint_is_reported_before_torch_is_imported(tmp_path: Path) -> None:
    """`train`, `predict` and `evaluate` found a bad --data-root, --checkpoint or $STVLM_PROGRESS
    only after importing the model stack (6.6 s on a loaded machine); now in a fraction of a second."""
    nowhere, ckpt = str(tmp_path / "nowhere"), str(tmp_path / "ckpt")
    probe = (
        "import sys\n"
        "from harness.cli.main import main\n"
        f"assert main(['train', '--dataset', 'los-loop', '--data-root', {nowhere!r}]) == 2\n"
        f"assert main(['predict', '--checkpoint', {ckpt!r}, '--out', 'p.npz']) == 2\n"
        f"assert main(['evaluate', '--dataset', 'los-loop', '--model', 'ridge', '--data-root', {nowhere!r}]) == 2\n"
        "import os; os.environ['STVLM_PROGRESS'] = 'maybe'\n"
        f"assert main(['train', '--dataset', 'los-loop', '--data-root', {str(REPO)!r}]) == 2\n"
        "assert 'torch' not in sys.modules, 'heavy import first'\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True,
                          timeout=patient(120))
    assert proc.returncode == 0, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("stvlm: error:")]
    missing = (f"stvlm: error: data root {nowhere!r}: {nowhere} is not a directory; pass --data-root or "
               "set STVLM_DATA to the folder holding one sub-folder per dataset")
    assert errors == [missing, f"stvlm: error: {ckpt} is not a checkpoint folder: experiment.json is missing",
                      missing, "stvlm: error: STVLM_PROGRESS = 'maybe' is not allowed; allowed: 0 (no bars), 1 (bars)"]


def test_a_ctrl_c_outside_ray_tune_is_one_line_and_exit_130(monkeypatch, capsys, tmp_path: Path) -> None:
    """A Ctrl-C while Ray starts or the data loads, or a second one while Ray Tune saves its state,
    reaches the script as KeyboardInterrupt: one line saying how to resume, no traceback. (The
    first Ctrl-C inside Ray Tune: tests/harness/test_ray_jobs.py.)"""
    import harness.cli.entry as entry

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(entry, "run_from_args", interrupted)
    assert entry.study_main("fewshot.py", "d", tmp_path / "spec.toml", ["--smoke-test"]) == 130
    assert capsys.readouterr().err.splitlines() == [
        "fewshot.py: interrupted; the same command resumes the study (recorded trials are kept)"]


def test_train_refuses_an_out_folder_holding_another_experiment(capsys, tmp_path: Path, data_root: Path) -> None:
    """`stvlm train --out` into the folder of another run replaced its checkpoint and metrics
    without a word; now it stops before any work and writes nothing. The same experiment (a
    re-run) may write its folder again."""
    from harness.cli.commands.train import check_run_folder
    from stvlm.configs import ExperimentConfig

    run = tmp_path / "run"
    run.mkdir()
    other = ExperimentConfig.default().with_overrides(["data.dataset=los-loop", "model.fusion.depth=2"])
    (run / "config.json").write_text(json.dumps(other.to_dict()))
    (run / "metrics.json").write_text("{}")
    argv = ["train", "--dataset", "los-loop", "--few-shot", "0.1", "--data-root", str(data_root), "--out", str(run)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"stvlm: error: --out '{run}' holds the run of another experiment "
                                               f"(config {other.config_hash()}, this one ")
    assert err[0].endswith("nothing was written: remove the folder or choose another --out")
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "metrics.json"]
    assert (run / "metrics.json").read_text() == "{}"
    check_run_folder(run, other.replace(data=other.data.replace(data_root=str(data_root))))  # same: allowed


def test_a_wrong_data_root_variable_is_an_error_not_an_unset_one(capsys, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STVLM_DATA", str(tmp_path / "nope"))
    assert main(["data", "list"]) == 2
    assert capsys.readouterr().err.startswith(f"stvlm: error: STVLM_DATA='{tmp_path / 'nope'}': ")
    monkeypatch.delenv("STVLM_DATA")
    assert main(["data", "list"]) == 0 and "(no data root)" in capsys.readouterr().out


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="checks a machine without CUDA")
def test_cuda_asked_for_without_one_is_refused_before_the_data_loads(capsys, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()  # no dataset files: the device is refused before any read
    code = main(["train", "--dataset", "los-loop", "--set", "train.device=cuda", "--data-root",
                 str(tmp_path / "empty"), "--out", str(tmp_path / "run")])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.strip().splitlines() == [
        "stvlm: error: train.device = 'cuda' but no CUDA device is available; allowed: 'auto', 'cpu'"]
