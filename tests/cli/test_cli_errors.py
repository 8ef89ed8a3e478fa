"""Bad input to `stvlm` ends with one line naming the problem and exit status 2, no traceback."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.cli.main import main

REPO = Path(__file__).resolve().parents[2]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("stvlm: error: ")
    assert "Traceback" not in err
    return lines[0]


def copy_dataset(data_root: Path, tmp_path: Path, *folders: str) -> Path:
    for folder in folders:
        shutil.copytree(data_root / folder, tmp_path / folder)
        for f in (tmp_path / folder).iterdir():
            f.chmod(0o644)
    return tmp_path


def test_unknown_dataset_and_model(capsys, data_root: Path) -> None:
    code, _, err = run(capsys, "evaluate", "--dataset", "pems99", "--model", "ridge",
                       "--data-root", str(data_root))
    assert code == 2
    assert one_error_line(err) == (
        "stvlm: error: unknown dataset 'pems99'; known: los-loop, sz-taxi, nycbike1, nycbike-drop, "
        f"pems03, pems04, pems07, pems08, metr-la, pems-bay (bring-your-own datasets are looked up "
        f"in {data_root})"
    )
    code, _, err = run(capsys, "evaluate", "--dataset", "los-loop", "--model", "arima",
                       "--data-root", str(data_root))
    assert code == 2
    assert one_error_line(err).startswith("stvlm: error: unknown model 'arima'; known: historical-average,")


@pytest.mark.parametrize(("ratio", "shown"), [("0", "0.0"), ("1.5", "1.5"), ("-0.1", "-0.1")])
def test_few_shot_ratio_out_of_range(capsys, data_root: Path, ratio: str, shown: str) -> None:
    code, _, err = run(capsys, "evaluate", "--dataset", "los-loop", "--model", "ridge",
                       f"--few-shot={ratio}", "--data-root", str(data_root))
    assert code == 2
    assert one_error_line(err) == (
        f"stvlm: error: few_shot.ratio = {shown} is out of range; allowed: > 0 and <= 1"
    )


def test_protocol_that_does_not_fit(capsys, data_root: Path, tmp_path: Path) -> None:
    code, _, err = run(capsys, "evaluate", "--dataset", "nycbike-drop", "--model", "ridge",
                       "--protocol", "tgcn", "--data-root", str(data_root))
    assert code == 2
    assert one_error_line(err) == (
        "stvlm: error: protocol 'tgcn' is defined for datasets sz-taxi, los-loop only, not "
        "'nycbike-drop'; use protocol 'standard'"
    )
    # A series shorter than one 12 -> 12 window.
    folder = tmp_path / "short"
    folder.mkdir()
    np.save(folder / "values.npy", np.ones((20, 3, 1), dtype=np.float32))
    (folder / "dataset.toml").write_text(
        'name = "short"\ninterval_minutes = 60\nchannels = ["flow"]\nunits = ["veh/h"]\n'
    )
    code, _, err = run(capsys, "evaluate", "--dataset", "short", "--model", "ridge",
                       "--data-root", str(tmp_path))
    assert code == 2
    assert one_error_line(err) == (
        "stvlm: error: protocol 'standard' on dataset 'short': one window needs input_len + "
        "output_len = 12 + 12 = 24 steps, the series has 20"
    )


def test_missing_truncated_and_altered_files(capsys, data_root: Path, tmp_path: Path) -> None:
    root = copy_dataset(data_root, tmp_path, "LOS-LOOP", "METR-LA")
    adj = root / "LOS-LOOP" / "los_adj.csv"
    original = adj.read_bytes()
    adj.unlink()
    code, _, err = run(capsys, "evaluate", "--dataset", "los-loop", "--model", "ridge", "--data-root", str(root))
    assert code == 2
    assert one_error_line(err) == (
        f"stvlm: error: dataset 'los-loop': missing file {adj} (see `stvlm data info los-loop`)"
    )
    adj.write_bytes(original[:1000])
    code, _, err = run(capsys, "evaluate", "--dataset", "los-loop", "--model", "ridge", "--data-root", str(root))
    assert code == 2
    assert one_error_line(err) == (
        f"stvlm: error: dataset 'los-loop': {adj} is truncated or altered: 1000 bytes, expected "
        f"{len(original)}"
    )
    altered = bytearray(original)
    altered[10] = ord("9") if altered[10] != ord("9") else ord("8")
    adj.write_bytes(bytes(altered))
    code, _, err = run(capsys, "evaluate", "--dataset", "los-loop", "--model", "ridge", "--data-root", str(root))
    assert code == 2
    line = one_error_line(err)
    assert line.startswith(f"stvlm: error: dataset 'los-loop': checksum mismatch for {adj}: sha256 ")
    assert line.endswith(", expected 7a6eb41e10677992b5af50f5ab187c6c05c5c3a92cb973950cfddbf857361e76")


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_and_never_runs(capsys, data_root: Path, tmp_path: Path) -> None:
    root = copy_dataset(data_root, tmp_path / "root", "NYCBike_drop_partial")
    marker = tmp_path / "pwned"
    with open(root / "NYCBike_drop_partial" / "adj_mx.pkl", "wb") as fh:
        pickle.dump(_Evil(marker), fh, protocol=2)
    code, _, err = run(capsys, "evaluate", "--dataset", "nycbike-drop", "--model", "ridge",
                       "--verify", "none", "--data-root", str(root))
    assert code == 2
    line = one_error_line(err)
    assert "adj_mx.pkl" in line and "posix.system" in line
    assert not marker.exists()
    # With checksums on (the default), the altered file is caught before it is even opened.
    code, _, err = run(capsys, "evaluate", "--dataset", "nycbike-drop", "--model", "ridge", "--data-root", str(root))
    assert code == 2 and "truncated or altered" in one_error_line(err)


def test_no_data_root_and_bad_set(capsys, monkeypatch) -> None:
    monkeypatch.delenv("STVLM_DATA", raising=False)
    code, _, err = run(capsys, "evaluate", "--dataset", "los-loop", "--model", "ridge")
    assert code == 2
    assert "STVLM_DATA" in one_error_line(err)
    code, _, err = run(capsys, "evaluate", "--dataset", "los-loop", "--model", "gru", "--set", "model.width=3")
    assert code == 2
    assert one_error_line(err) == (
        "stvlm: error: unknown key gru.width in GRUConfig; allowed: hidden, layers, dropout, lookback"
    )
    code, _, err = run(capsys, "evaluate", "--dataset", "los-loop", "--model", "gru", "--set", "width=3")
    assert code == 2
    assert "is not of the form model.KEY=VALUE, train.KEY=VALUE or data.KEY=VALUE" in one_error_line(err)
    code, _, err = run(capsys, "evaluate", "--dataset", "los-loop", "--model", "ridge", "--set", "data.lookback=[1]")
    assert code == 2
    assert one_error_line(err).startswith(
        "stvlm: error: --set data: unknown key lookback = [1]; allowed in DataConfig: dataset, data_root, ")
    code, _, err = run(capsys, "evaluate", "--dataset", "los-loop", "--model", "ridge", "--set",
                       "data.lookback_days=[7,1]")
    assert code == 2
    assert one_error_line(err) == "stvlm: error: lookback_days = (7, 1) must be strictly increasing (each day once)"


def test_fetch_without_a_download_source(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "data", "fetch", "pems03", "--data-root", str(tmp_path))
    assert code == 2
    line = one_error_line(err)
    assert "pems03" in line and "no public download source" in line


def test_fetch_of_a_present_dataset_names_each_verified_file(capsys, data_root: Path) -> None:
    """It crashed with "FetchResult object is not iterable" after every successful fetch."""
    from stvlm.data.datasets import dataset_info

    code, out, err = run(capsys, "data", "fetch", "sz-taxi", "--data-root", str(data_root))
    assert (code, err) == (0, "")
    folder = data_root.resolve() / dataset_info("sz-taxi").folder
    assert out.splitlines() == [f"verified {folder / f.name}" for f in dataset_info("sz-taxi").files]


def test_console_script_exit_status_and_single_line(data_root: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli.main", "evaluate", "--dataset", "nope", "--model", "ridge",
         "--data-root", str(data_root)],
        capture_output=True, text=True, cwd=REPO,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "stvlm: error: unknown dataset 'nope'; known: los-loop, sz-taxi, nycbike1, nycbike-drop, "
        f"pems03, pems04, pems07, pems08, metr-la, pems-bay (bring-your-own datasets are looked up "
        f"in {data_root})"
    ]
    proc = subprocess.run([sys.executable, "-m", "harness.cli.main", "evaluate", "--few-shot", "abc"],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


def test_a_reader_that_stops_early_ends_the_verb_quietly(data_root: Path) -> None:
    """``stvlm data list | head``: stdout is a pipe whose reader has gone (closed here before the
    process starts, so its first write fails for sure): status 141, nothing on stderr."""
    read, write = os.pipe()
    os.close(read)
    try:
        proc = subprocess.run([sys.executable, "-m", "harness.cli.main", "data", "list", "--data-root",
                               str(data_root)], stdout=write, stderr=subprocess.PIPE, text=True, cwd=REPO)
    finally:
        os.close(write)
    assert (proc.returncode, proc.stderr) == (141, "")
