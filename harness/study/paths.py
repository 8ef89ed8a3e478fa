"""Output paths checked before any work: a bad one is a one-line error, not a lost run.

Every verb and study script that writes results checks each output path here first (before
loading data or importing torch), so a typo costs a second, not the run it was meant to keep.
"""

from __future__ import annotations

import os
from pathlib import Path

from stvlm.errors import ConfigError


def _nearest_existing(path: Path) -> Path:
    """``path`` or its closest ancestor that exists."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(path.anchor or ".")


def check_output_file(path: str | os.PathLike[str], flag: str) -> Path:
    """A file the run will write: not a directory, its folder existing and writable.

    Args:
        path: the file.
        flag: the option that named it (messages), e.g. ``--json``.

    Raises:
        ConfigError: the path is a directory, its folder is missing or is not a folder, or
            the file or its folder is not writable.
    """
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"{flag} {str(path)!r} is a directory; give a file path")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.exists():
        raise ConfigError(f"{flag} {str(path)!r}: folder {str(parent)!r} does not exist")
    if not parent.is_dir():
        raise ConfigError(f"{flag} {str(path)!r}: {str(parent)!r} is not a folder")
    if p.exists() and not os.access(p, os.W_OK):
        raise ConfigError(f"{flag} {str(path)!r} is not writable")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag} {str(path)!r}: folder {str(parent)!r} is not writable")
    return p


def check_output_dir(path: str | os.PathLike[str], flag: str) -> Path:
    """A folder the run will create or fill: not a file, and creatable where it does not exist.

    Raises:
        ConfigError: the path is a file, or the folder (or the ancestor it would be created
            in) is not writable.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ConfigError(f"{flag} {str(path)!r} is a file; give a folder")
    base = _nearest_existing(p)
    if not base.is_dir():
        raise ConfigError(f"{flag} {str(path)!r}: {str(base)!r} is a file, not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag} {str(path)!r}: folder {str(base)!r} is not writable")
    return p


# SQLAlchemy dialects Optuna's RDB storage can use, and the module each default driver needs.
_RDB_DRIVERS = {
    "sqlite": ("sqlite3", "the Python standard library"),
    "mysql": ("MySQLdb", "mysqlclient"),
    "mysql+pymysql": ("pymysql", "PyMySQL"),
    "mysql+mysqldb": ("MySQLdb", "mysqlclient"),
    "postgresql": ("psycopg2", "psycopg2-binary"),
    "postgresql+psycopg2": ("psycopg2", "psycopg2-binary"),
    "postgresql+psycopg": ("psycopg", "psycopg[binary]"),
}


def check_optuna_storage(url: str | None, *, files: bool = True) -> None:
    """An Optuna storage URL or journal path that will open, checked without importing Optuna.

    Allowed: ``sqlite:////abs/path.db``, a MySQL or PostgreSQL URL whose driver is installed,
    or an absolute journal file path. With ``files`` the SQLite or journal file's folder must
    exist and be writable here too (the spec itself is checked without: it may run elsewhere).

    Raises:
        ConfigError: relative paths, unknown schemes, or a scheme whose driver is missing
            (naming the package to install).
    """
    import importlib.util

    if url is None:
        return
    if "://" not in url:
        if not Path(url).is_absolute():
            raise ConfigError(
                f"optuna_storage = {url!r} is not allowed; give an absolute journal file path"
            )
        if files:
            check_output_file(url, "optuna_storage")
        return
    scheme = url.split("://", 1)[0].lower()
    if scheme not in _RDB_DRIVERS:
        raise ConfigError(
            f"optuna_storage = {url!r}: scheme {scheme!r} is not allowed; allowed: "
            f"{', '.join(sorted(_RDB_DRIVERS))}, or an absolute journal file path"
        )
    if scheme == "sqlite":
        if not Path(url[len("sqlite:///"):]).is_absolute():
            raise ConfigError(f"optuna_storage = {url!r} is not allowed; use sqlite:////abs/path.db")
        if files:
            check_output_file(url[len("sqlite:///"):], "optuna_storage")
    module, package = _RDB_DRIVERS[scheme]
    if importlib.util.find_spec(module) is None:
        raise ConfigError(
            f"optuna_storage = {url!r} needs the database driver {module!r}, which is not "
            f"installed; run: pip install {package}"
        )
