"""Where the datasets live: the data root.

The data root is a folder with one sub-folder per dataset (``<root>/LOS-LOOP/los_speed.csv``).
It comes from an explicit argument (``--data-root``) or, failing that, from the environment
variable ``STVLM_DATA``.
"""

from __future__ import annotations

import os
from pathlib import Path

from stvlm.errors import DataError

ENV_VAR = "STVLM_DATA"


def resolve_data_root(arg: str | Path | None) -> Path:
    """Return the data root as an absolute path.

    Args:
        arg: an explicit folder; ``None`` falls back to ``$STVLM_DATA``.

    Returns:
        The resolved folder (it exists and is a directory).

    Raises:
        DataError: no folder was given, or the folder is not a directory.
    """
    if arg is None or str(arg) == "":
        env = os.environ.get(ENV_VAR, "")
        if not env:
            raise DataError(
                f"no data root given: pass --data-root or set {ENV_VAR} to the folder holding "
                "one sub-folder per dataset"
            )
        arg, origin = env, f"{ENV_VAR}={env!r}"
    else:
        origin = f"data root {str(arg)!r}"
    root = Path(arg).expanduser().resolve()
    if not root.is_dir():
        raise DataError(
            f"{origin}: {root} is not a directory; pass --data-root or set {ENV_VAR} to the "
            "folder holding one sub-folder per dataset"
        )
    return root


def optional_data_root(arg: str | Path | None) -> Path | None:
    """Like :func:`resolve_data_root`, but ``None`` (and no usable ``$STVLM_DATA``) gives ``None``.

    An explicit ``arg`` must still be a directory.
    """
    if arg is not None and str(arg) != "":
        return resolve_data_root(arg)
    env = os.environ.get(ENV_VAR, "")
    if env and Path(env).expanduser().is_dir():
        return Path(env).expanduser().resolve()
    return None
