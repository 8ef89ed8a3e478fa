"""Files a user did not make (a results folder, a checkpoint) are read without writing
elsewhere, and broken ones end in one-line errors."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from harness.study.owned import check_report_dir
from stvlm.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "results" / "fewshot-nycbike-drop-smoke"
DEEP = "[" * 200_000 + "]" * 200_000


def test_a_deeply_nested_json_is_a_one_line_error(tmp_path: Path) -> None:
    from harness.report.load import ResultsError, load_study
    from stvlm.errors import DataError
    from stvlm.experiment import load_checkpoint

    study = tmp_path / "study"
    shutil.copytree(SMOKE, study)
    (study / "study.json").write_text(DEEP)
    with pytest.raises(ResultsError, match=r"study.json: not valid JSON \(maximum recursion depth"):
        load_study(study)
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "experiment.json").write_text(DEEP)
    with pytest.raises(DataError, match=r"experiment.json: not a readable experiment record \(maximum recursion"):
        load_checkpoint(tmp_path / "ckpt")


def test_the_report_opens_an_optuna_storage_read_only(tmp_path: Path) -> None:
    """study.json may name any sqlite file; Optuna created its tables in one that had none."""
    from harness.report.importance import _from_storage

    victim = tmp_path / "victim.db"
    with sqlite3.connect(victim) as db:
        db.execute("create table a (x)")
    before = victim.read_bytes()
    with pytest.raises(Exception, match="readonly database"):
        _from_storage(victim)
    assert victim.read_bytes() == before
    import optuna

    own = tmp_path / "optuna.db"  # a real storage (results/**/optuna.db is not committed)
    study = optuna.create_study(study_name="s", storage=f"sqlite:///{own}")
    for x in (0.1, 0.5, 0.9, 0.3):
        study.add_trial(optuna.trial.create_trial(params={"x": x}, value=x * x, distributions={
            "x": optuna.distributions.FloatDistribution(0.0, 1.0)}))
    del study
    before = own.read_bytes()
    (name, scores, done), = _from_storage(own)  # it reads as before, and writes nothing
    assert own.read_bytes() == before and (name, list(scores), done) == ("s", ["x"], 4)


def test_a_report_folder_that_is_a_link_is_refused(tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "report").symlink_to(tmp_path / "outside")
    with pytest.raises(ConfigError, match="is a symbolic link, and a report replaces its whole folder"):
        check_report_dir(tmp_path / "report", "--out", [tmp_path / "results"])


def test_a_yaml_alias_bomb_is_a_short_one_line_error(tmp_path: Path) -> None:
    """443 bytes of YAML aliases name 43 million strings; the error used to print them all."""
    from harness.study.config_files import load_mapping
    from stvlm.configs import ExperimentConfig

    levels = ['&a0 "lol-lol-lol-lol"'] + [f"&a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    nested = levels[-1]
    for i in range(7, -1, -1):  # anchor every level before its aliases
        nested = nested.replace(f"*a{i}", levels[i], 1)
    path = tmp_path / "bomb.yaml"
    path.write_text(f"data:\n  dataset: los-loop\n  lookback_days: {nested}\n")
    with pytest.raises(ConfigError) as err:
        ExperimentConfig.from_dict(load_mapping(path))
    message = str(err.value)
    assert message.startswith("data.lookback_days = [[[...], [...],") and len(message) < 1000


def test_a_results_table_declaring_too_many_rows_is_not_read(tmp_path: Path, monkeypatch) -> None:
    """A 1.8 MB Parquet file can declare 400 million rows (3.5 GB to read); the row count comes
    from the file's metadata, so the check costs nothing."""
    import harness.report.load as load

    study = tmp_path / "study"
    shutil.copytree(SMOKE, study)
    monkeypatch.setattr(load, "MAX_ROWS", 5)
    with pytest.raises(load.ResultsError, match=r"trials.parquet: declares \d+ rows, more than a results "
                                                r"table holds \(5\); not read"):
        load.load_study(study)


def test_a_value_in_an_error_is_its_repr_bounded() -> None:
    from stvlm.configs.shown import shown

    assert [shown(v) for v in ([1, 7], "auto", (1,), {"a": 1.5}, True, 12)] == [
        "[1, 7]", "'auto'", "(1,)", "{'a': 1.5}", "True", "12"]
    assert shown(list(range(20))) == "[0, 1, 2, 3, 4, 5, 6, 7, ...]"
    assert shown([[[1]]]) == "[[[...]]]"
    assert shown(10**50) == "100000000000000000...000000000000000000 (51 digits)"
