"""``stvlm data list|info|fetch``: what datasets exist, what they are, getting their files."""

from __future__ import annotations

import argparse
import json
from typing import Any

from harness.cli.commands.base import COMMANDS, Command, add_data_root, emit


def _root(args: argparse.Namespace, *, required: bool) -> Any:
    import os

    from stvlm.data.root import ENV_VAR, resolve_data_root

    if args.data_root is None and not required and not os.environ.get(ENV_VAR):
        return None  # no root configured: list without presence information
    return resolve_data_root(args.data_root)  # a root given but wrong is an error, not "none"


def _list(args: argparse.Namespace) -> int:
    from stvlm.data.datasets import dataset_info, dataset_names, dataset_status

    root = _root(args, required=False)
    rows = []
    for name in dataset_names(root):
        info = dataset_info(name, root)
        status = dataset_status(name, root) if root is not None else "(no data root)"
        rows.append((name, str(info.nodes), f"{info.interval_minutes} min", status, info.title))
    widths = [max(len(r[i]) for r in rows + [("name", "nodes", "step", "files", "title")]) for i in range(4)]
    header = ("name", "nodes", "step", "files", "title")
    for row in [header] + rows:
        emit("  ".join(c.ljust(w) for c, w in zip(row[:4], widths)) + "  " + row[4])
    if root is not None:
        emit(f"\ndata root: {root}")
    return 0


def _info(args: argparse.Namespace) -> int:
    from stvlm.data.datasets import dataset_info, dataset_status

    root = _root(args, required=False)
    info = dataset_info(args.name, root)
    record: dict[str, Any] = info.to_dict()
    if root is not None:
        record["status"] = dataset_status(args.name, root)
        record["folder_path"] = str(root / info.folder)
        if record["status"] == "present":
            record.update(_loaded_facts(args.name, root))
    if args.json:
        emit(json.dumps(record, indent=2, default=str))
        return 0
    for key, value in record.items():
        if key == "files":
            emit("files:")
            for f in value:
                emit(f"  {f['name']}  size={f['size']}  sha256={f['sha256']}  required={f['required']}")
                if f.get("url"):
                    emit(f"    url: {f['url']}")
        else:
            emit(f"{key}: {value}")
    return 0


def _loaded_facts(name: str, root: Any) -> dict[str, Any]:
    """What only the loaded series tells: its shape and its non-finite entries (as given)."""
    from stvlm.data.datasets import load_dataset
    from stvlm.errors import DataError

    try:
        data = load_dataset(name, root)
    except DataError as err:  # the record is still worth showing; say why it does not load
        return {"load_error": str(err)}
    return {
        "values_shape": list(data.values.shape),
        "nonfinite": data.nonfinite.describe(data.values.size),
        "nan_entries": data.nonfinite.nan,
        "inf_entries": data.nonfinite.inf,
    }


def _fetch(args: argparse.Namespace) -> int:
    from stvlm.data.fetch import fetch_dataset
    from stvlm.errors import DataError

    root = _root(args, required=True)
    result = fetch_dataset(args.name, root)
    for verb, paths in (("downloaded", result.downloaded), ("verified", result.present)):
        for path in paths:
            emit(f"{verb} {path}")
    if result.manual:
        raise DataError(f"dataset {args.name!r}: {', '.join(str(p) for p in result.manual)} has no download "
                        f"source; copy it by hand (see `stvlm data info {args.name}`)")
    return 0


def _add_parser(sub: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser("data", help="list, describe and fetch datasets")
    verbs = parser.add_subparsers(dest="verb", required=True, parser_class=type(parser))
    p = verbs.add_parser("list", help="every registered dataset and whether its files are present")
    add_data_root(p)
    p.set_defaults(run=_list)
    p = verbs.add_parser("info", help="the info record of a dataset")
    p.add_argument("name")
    p.add_argument("--json", action="store_true", help="print the record as JSON")
    add_data_root(p)
    p.set_defaults(run=_info)
    p = verbs.add_parser("fetch", help="download a dataset's public files and verify checksums")
    p.add_argument("name")
    add_data_root(p)
    p.set_defaults(run=_fetch)
    return parser


COMMANDS.add("data", Command("data", _add_parser))
