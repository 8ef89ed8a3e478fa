"""Reading config files (TOML, YAML or JSON) into plain mappings, with one-line errors, and
laying a partial file over a base config (:func:`layered`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from stvlm.configs.base import Config
from stvlm.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def _unique_pairs(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    """A table from its ``(key, value)`` pairs, refusing a key given twice (JSON and YAML keep the
    last value without a word; TOML refuses it).

    Raises:
        ValueError: a key is given twice (:func:`load_mapping` makes it a one-line ConfigError).
    """
    table: dict[Any, Any] = {}
    for key, value in pairs:
        if key in table:
            raise ValueError(f"key {key!r} is given twice ({table[key]!r}, then {value!r}); give it once")
        table[key] = value
    return table


def _load_yaml(text: str) -> Any:
    """``yaml.safe_load`` that refuses a key given twice in one mapping."""
    import yaml

    class UniqueKeys(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
            # the keys written in this mapping, not those a merge (<<: *base) brings, which they override
            _unique_pairs([(self.construct_object(k, deep=deep), self.construct_object(v, deep=deep))
                           for k, v in node.value if k.tag != "tag:yaml.org,2002:merge"])
            return super().construct_mapping(node, deep=deep)

    return yaml.load(text, Loader=UniqueKeys)  # noqa: S506 - a SafeLoader subclass


def load_mapping(path: str | Path) -> dict[str, Any]:
    """Parse ``path`` by its suffix (.toml, .yaml/.yml, .json) into a dict."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    text = path.read_text()
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text)  # refuses a key given twice itself
        elif path.suffix in (".yaml", ".yml"):
            data = _load_yaml(text) or {}
        elif path.suffix == ".json":
            data = json.loads(text, object_pairs_hook=_unique_pairs)
        else:
            raise ConfigError(f"config file {path}: unknown format {path.suffix!r}; allowed: .toml, .yaml, .yml, .json")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, ValueError) as err:
        if isinstance(err, ConfigError):
            raise
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ConfigError(f"config file {path} is not valid {path.suffix[1:].upper()}: {first}") from None
    except Exception as err:  # yaml.YAMLError and friends
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ConfigError(f"config file {path} could not be parsed: {first}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a table of settings, not {type(data).__name__}")
    return data


def layered(base: Config, mapping: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """``base.to_dict()`` with a partial mapping's values over it, table by table: a key the
    mapping leaves out keeps ``base``'s value, a sub-config's table is laid over that sub-config
    (so ``[data] dataset = "x"`` keeps the other data settings of ``base``), any other value
    replaces the field whole. Returns the merged dict (for ``type(base).from_dict``, which
    names unknown keys) and the dotted paths the mapping set."""
    merged = base.to_dict()
    paths: set[str] = set()
    for key, value in mapping.items():
        sub = getattr(base, key, None) if key in base.allowed_keys() else None
        if isinstance(sub, Config) and isinstance(value, dict):
            merged[key], below = layered(sub, value)
            paths |= {f"{key}.{path}" for path in below} or {key}
        else:
            merged[key] = value
            paths.add(key)
    return merged, paths
