"""Downloads against a local http.server on 127.0.0.1 (started and stopped here) and a closed
port; no internet needed."""

from __future__ import annotations

import functools
import hashlib
import http.server
import socket
import threading

import pytest

from stvlm.data.datasets import dataset_info
from stvlm.data.fetch import fetch_dataset, fetch_files
from stvlm.data.series import DatasetInfo, FileSpec
from stvlm.errors import DataError

PAYLOAD = b"from,to,cost\n0,1,2.5\n" * 50


@pytest.fixture
def server(tmp_path):
    """Serve tmp_path/'served' on a free loopback port; yields the base URL."""
    served = tmp_path / "served"
    served.mkdir()
    (served / "edges.csv").write_bytes(PAYLOAD)
    handler = functools.partial(QuietHandler, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def info_with(*files: FileSpec) -> DatasetInfo:
    return DatasetInfo(name="toy", folder="TOY", title="t", description="d", nodes=1, steps=1,
                       interval_minutes=60, channels=("v",), units=("u",), files=files)


def spec(url: str, *, sha: str | None = None, size: int | None = None) -> FileSpec:
    return FileSpec(name="edges.csv", url=url,
                    sha256=sha or hashlib.sha256(PAYLOAD).hexdigest(),
                    size=len(PAYLOAD) if size is None else size)


def test_download_verifies_and_renames(server, tmp_path):
    folder = tmp_path / "root" / "TOY"
    info = info_with(spec(f"{server}/edges.csv"), FileSpec(name="values.npz"))
    result = fetch_files(info, folder)
    assert (folder / "edges.csv").read_bytes() == PAYLOAD
    assert result.downloaded == ((folder / "edges.csv").resolve(),)
    assert result.manual == ((folder / "values.npz").resolve(),)  # no source: copy by hand
    assert sorted(p.name for p in folder.iterdir()) == ["edges.csv"]  # no temp file left
    again = fetch_files(info, folder)  # present and intact: not downloaded again
    assert again.downloaded == () and again.present == ((folder / "edges.csv").resolve(),)


def test_checksum_mismatch_leaves_no_file(server, tmp_path):
    folder = tmp_path / "TOY"
    info = info_with(spec(f"{server}/edges.csv", sha="0" * 64))
    with pytest.raises(DataError) as err:
        fetch_files(info, folder)
    actual = hashlib.sha256(PAYLOAD).hexdigest()
    assert str(err.value) == (
        f"could not download {server}/edges.csv for dataset 'toy': checksum mismatch: sha256 "
        f"{actual}, expected {'0' * 64}; copy the files into {folder} by hand "
        "(see `stvlm data info toy`)"
    )
    assert list(folder.iterdir()) == []


def test_size_mismatch_and_http_error(server, tmp_path):
    with pytest.raises(DataError, match=r"received 1050 bytes, expected 7; copy the files"):
        fetch_files(info_with(spec(f"{server}/edges.csv", size=7)), tmp_path / "TOY")
    with pytest.raises(DataError, match=r"could not download .*/gone\.csv for dataset 'toy': "
                                        r"HTTP Error 404"):
        fetch_files(info_with(spec(f"{server}/gone.csv")), tmp_path / "TOY")


def test_no_network_is_a_one_line_data_error(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/x"
    with pytest.raises(DataError) as err:
        fetch_files(info_with(spec(url)), tmp_path / "TOY", timeout=5)
    message = str(err.value)
    assert message.startswith(f"could not download {url} for dataset 'toy': ")
    assert "Connection refused" in message and "\n" not in message
    assert message.endswith(f"; copy the files into {tmp_path / 'TOY'} by hand "
                            "(see `stvlm data info toy`)")


def test_corrupt_present_file_is_downloaded_again(server, tmp_path):
    folder = tmp_path / "TOY"
    folder.mkdir()
    (folder / "edges.csv").write_bytes(PAYLOAD[:-1] + b"X")
    result = fetch_files(info_with(spec(f"{server}/edges.csv")), folder)
    assert result.downloaded and (folder / "edges.csv").read_bytes() == PAYLOAD


def test_dataset_without_any_source(tmp_path):
    with pytest.raises(DataError) as err:
        fetch_dataset("pems03", tmp_path)
    assert str(err.value) == (
        f"dataset 'pems03' has no public download source; copy its files into "
        f"{tmp_path / 'PEMS03'} by hand (see `stvlm data info pems03`)"
    )


def test_fetch_into_complete_shared_root_downloads_nothing(data_root):
    result = fetch_dataset("sz-taxi", data_root)
    assert result.downloaded == () and result.manual == ()
    assert [p.name for p in result.present] == [f.name for f in dataset_info("sz-taxi").files]


def test_file_in_a_sibling_folder(server, tmp_path):
    """los-loop keeps METR-LA's locations file in METR-LA/, named ``../METR-LA/...``."""
    info = info_with(FileSpec(name="../SHARED/edges.csv", url=f"{server}/edges.csv",
                              sha256=hashlib.sha256(PAYLOAD).hexdigest()))
    result = fetch_files(info, tmp_path / "TOY")
    assert result.downloaded == (tmp_path / "SHARED" / "edges.csv",)
    assert (tmp_path / "SHARED" / "edges.csv").read_bytes() == PAYLOAD


def test_download_draws_a_byte_bar_when_progress_is_on(server, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("STVLM_PROGRESS", "1")
    fetch_files(info_with(spec(f"{server}/edges.csv")), tmp_path / "root" / "TOY")
    out, err = capsys.readouterr()
    assert out == ""  # bars never touch stdout
    assert "fetch edges.csv: 100%" in err and "1.05k/1.05k" in err
