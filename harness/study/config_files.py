"""Reading config files (TOML, YAML or JSON) into plain mappings, with one-line errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from stvlm.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def load_mapping(path: str | Path) -> dict[str, Any]:
    """Parse ``path`` by its suffix (.toml, .yaml/.yml, .json) into a dict."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    text = path.read_text()
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        elif path.suffix == ".json":
            data = json.loads(text)
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
