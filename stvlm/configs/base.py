"""The config engine: typed, frozen configuration.

Every size and option of the library lives in a frozen, keyword-only dataclass derived from
:class:`Config`. Raw dicts (TOML/YAML files, ``--set key=value`` overrides, Ray trial dicts,
checkpoint JSON) become configs at the edges only, through the strict :meth:`Config.from_dict`:

* unknown keys raise, listing the allowed ones;
* values are checked against the field's type (``int``, ``float``, ``bool``, ``str``,
  ``Literal[...]``, ``tuple[...]``, ``X | None``, nested configs) and against the bounds declared
  with :func:`field`;
* every error is a :class:`~stvlm.errors.ConfigError` whose one-line message names the dotted
  field path, the value and what is allowed.

:meth:`Config.config_hash` is a short SHA-256 of the canonical JSON form and is stable across
processes and Python versions.

Example::

    @config_class
    class HeadConfig(Config):
        hidden: int = field(64, ge=1, help="width of the hidden layer")
        kind: Literal["linear", "mlp"] = field("linear", help="head type")
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from stvlm.configs.shown import shown
from stvlm.errors import ConfigError

C = TypeVar("C", bound="Config")

_MISSING = dataclasses.MISSING


def config_class(cls: type[C]) -> type[C]:
    """Make ``cls`` a frozen, keyword-only dataclass (the only way configs are declared)."""
    return dataclasses.dataclass(frozen=True, kw_only=True)(cls)


def field(
    default: Any = _MISSING,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    help: str = "",  # noqa: A002 - mirrors dataclasses/peft "help" metadata
    default_factory: Any = _MISSING,
    identity: bool | Literal["unless_default"] = True,
) -> Any:
    """A config field with optional numeric bounds and help text.

    Bounds apply to numbers and to every number inside a tuple field. ``identity=False`` marks
    a field that says where or how a run finds its inputs, not what it computes (a data root):
    it stays in ``to_dict`` but not in :meth:`Config.config_hash`. ``identity="unless_default"``
    leaves the field out of the hash only while it holds its default: an option added to an
    existing config that way keeps the hash of every config that does not set it (and so the
    identity of earlier runs and studies).
    """
    meta = {"help": help, "ge": ge, "gt": gt, "le": le, "lt": lt, "identity": identity}
    if default_factory is not _MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    if default is _MISSING:
        return dataclasses.field(metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _default(f: dataclasses.Field) -> Any:
    """The default value of dataclass field ``f`` (``default_factory`` called)."""
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def canonical_hash(obj: Any, length: int = 12) -> str:
    """Short SHA-256 of ``obj``'s canonical JSON (sorted keys, no spaces): the one hash of the
    project, used for config identities, results rows and report configurations."""
    canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:length]


def _describe(tp: Any) -> str:
    """Human-readable description of a type annotation, for error messages."""
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in get_args(tp))
    if origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_describe(args[0])}"
        return "a list of (" + ", ".join(_describe(a) for a in args) + ")"
    if tp is type(None):
        return "null"
    if isinstance(tp, type) and issubclass(tp, Config):
        return f"a table of {tp.__name__} settings"
    if tp is float:
        return "a number"
    if tp is int:
        return "an integer"
    if tp is bool:
        return "true or false"
    if tp is str:
        return "a string"
    return getattr(tp, "__name__", str(tp))


def _bounds_text(meta: Mapping[str, Any], x: float) -> str:
    parts = []
    for key, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if meta.get(key) is not None:
            bound = meta[key]
            parts.append(f"{sym} {bound}" if isinstance(bound, int) and abs(bound) >= 1e6 else f"{sym} {bound:g}")
    if isinstance(x, int) and abs(x) > INT_LIMIT and meta.get("le") is None:
        parts.append(f"at most {INT_LIMIT} in size")
    return " and ".join(parts)


class _Mismatch(Exception):
    """Internal: a value does not match a type."""


#: Scalar annotations and the values they accept as they are (a bool is not a number; an int is a
#: float; "3" is not an int).
_SCALARS: dict[Any, Any] = {
    bool: lambda v: isinstance(v, bool),
    int: lambda v: isinstance(v, int) and not isinstance(v, bool),
    float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    str: lambda v: isinstance(v, str),
}


def _coerce(value: Any, tp: Any, path: str) -> Any:
    """Return ``value`` converted to annotation ``tp`` or raise :class:`_Mismatch`.

    Lists become tuples, ints become floats where a float is expected, mappings become nested
    configs (strictly, via ``from_dict``). Nothing else is converted: "3" is not an int.
    """
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        if value in get_args(tp) and type(value) in {type(a) for a in get_args(tp)}:
            return value
        raise _Mismatch
    if origin in (Union, types.UnionType):
        for arg in get_args(tp):
            try:
                return _coerce(value, arg, path)
            except _Mismatch:
                continue
        raise _Mismatch
    if tp is type(None):
        if value is None:
            return None
        raise _Mismatch
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise _Mismatch
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{path}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise _Mismatch
        return tuple(_coerce(v, a, f"{path}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if isinstance(tp, type) and issubclass(tp, Config):
        if isinstance(value, tp):
            return value
        if isinstance(value, Mapping):
            return tp.from_dict(value, path=path)
        raise _Mismatch
    if tp in _SCALARS:
        if _SCALARS[tp](value):
            if tp is float and isinstance(value, int) and value.bit_length() > 1024:
                return math.inf if value > 0 else -math.inf  # float(10**400) overflows: "not a finite number"
            return float(value) if tp is float else value
        raise _Mismatch
    if origin is dict:
        if not isinstance(value, Mapping):
            raise _Mismatch
        key_tp, val_tp = get_args(tp)
        return {_coerce(k, key_tp, path): _coerce(v, val_tp, f"{path}.{k}") for k, v in value.items()}
    raise TypeError(f"unsupported config annotation {tp!r} at {path}")


def _numbers(value: Any) -> Iterable[float]:
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        yield value
    elif isinstance(value, tuple):
        for v in value:
            yield from _numbers(v)


#: The largest integer a config holds (torch's and numpy's int64): a larger one would overflow
#: where it is first used, deep inside a run, not where it was given.
INT_LIMIT = 2**63 - 1


def _within(x: float, meta: Mapping[str, Any]) -> bool:
    if isinstance(x, int) and abs(x) > INT_LIMIT:
        return False
    if not math.isfinite(x) and any(meta.get(k) is not None for k in ("ge", "gt", "le", "lt")):
        return False  # inf passed a lower bound alone (train.lr = inf); NaN fails every comparison
    checks = (
        ("ge", lambda b: x >= b),
        ("gt", lambda b: x > b),
        ("le", lambda b: x <= b),
        ("lt", lambda b: x < b),
    )
    return all(meta.get(k) is None or ok(meta[k]) for k, ok in checks)


class Config:
    """Base class of all configs: strict construction, dict round trip, stable hash.

    Subclasses are declared with :func:`config_class` and may override :meth:`check` for
    cross-field rules (raise :class:`ConfigError` via :meth:`fail`).
    """

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            tp = hints[f.name]
            try:
                coerced = _coerce(value, tp, f.name)
            except _Mismatch:
                raise ConfigError(
                    f"{f.name} = {shown(value)} is not allowed; expected {_describe(tp)}"
                ) from None
            if coerced is not value:
                object.__setattr__(self, f.name, coerced)
            for x in _numbers(coerced):
                if not _within(x, f.metadata):
                    what = "out of range" if isinstance(x, int) or math.isfinite(x) else "not a finite number"
                    raise ConfigError(
                        f"{f.name} = {shown(value)} is {what}; allowed: {_bounds_text(f.metadata, x)}"
                    )
        self.check()

    def check(self) -> None:
        """Cross-field validation hook; subclasses raise via :meth:`fail`."""

    def fail(self, name: str, message: str) -> None:
        """Raise a :class:`ConfigError` about field ``name``."""
        raise ConfigError(f"{name} = {shown(getattr(self, name))} {message}")

    # -- dict round trip ------------------------------------------------------------------

    @classmethod
    def allowed_keys(cls) -> list[str]:
        """Names of the fields, in declaration order."""
        return [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any], *, path: str = "") -> C:
        """Build a config from a mapping; unknown keys and bad values raise ``ConfigError``.

        Args:
            data: the raw mapping (from TOML, YAML, JSON or a Ray trial).
            path: dotted prefix of this config inside its parent, for error messages.
        """
        prefix = f"{path}." if path else ""
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"{path or cls.__name__} = {shown(data)} is not allowed; expected a table of "
                f"{cls.__name__} settings"
            )
        allowed = cls.allowed_keys()
        for key in data:
            if key not in allowed:
                raise ConfigError(
                    f"unknown key {prefix}{key!s} in {cls.__name__}; allowed: {', '.join(allowed)}"
                )
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name not in data and f.default is f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{prefix}{f.name} is required; expected {_describe(hints[f.name])}")
        try:
            return cls(**dict(data))
        except ConfigError as err:
            message = str(err)
            unknown = "unknown key "
            if message.startswith(unknown):  # "unknown key fusion.x ..." -> "unknown key model.fusion.x ..."
                if prefix and not message[len(unknown):].startswith(prefix):
                    message = unknown + prefix + message[len(unknown):]
            elif prefix and not message.startswith(prefix):
                message = prefix + message
            raise ConfigError(message) from None
        except TypeError as err:  # a required field is missing
            raise ConfigError(f"{prefix or cls.__name__ + ': '}{err}") from None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (tuples become lists) that ``from_dict`` accepts back."""

        def plain(v: Any) -> Any:
            if isinstance(v, Config):
                return v.to_dict()
            if isinstance(v, tuple):
                return [plain(x) for x in v]
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            return v

        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def identity_dict(self) -> dict[str, Any]:
        """:meth:`to_dict` without the fields marked ``identity=False``, nor those marked
        ``identity="unless_default"`` that hold their default (at every level)."""
        out = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            identity = f.metadata.get("identity", True)
            value = getattr(self, f.name)
            if identity is False or (identity == "unless_default" and value == _default(f)):
                continue
            out[f.name] = value.identity_dict() if isinstance(value, Config) else self.to_dict()[f.name]
        return out

    def config_hash(self, length: int = 12) -> str:
        """The identity of the config: :func:`canonical_hash` of :meth:`identity_dict`, so equal
        experiments hash equally wherever their data lives."""
        return canonical_hash(self.identity_dict(), length)

    def replace(self: C, **changes: Any) -> C:
        """A copy with some fields changed (validated like a new config)."""
        unknown = sorted(set(changes) - set(self.allowed_keys()))
        if unknown:
            raise ConfigError(
                f"unknown key {unknown[0]} in {type(self).__name__}; "
                f"allowed: {', '.join(self.allowed_keys())}"
            )
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def with_overrides(self: C, assignments: Iterable[str]) -> C:
        """Apply ``key.sub=value`` strings (values parsed as JSON, else kept as strings)."""
        values: dict[str, Any] = {}
        for item in assignments:
            if "=" not in item:
                raise ConfigError(f"override {item!r} is not of the form key=value")
            key, raw = item.split("=", 1)
            try:
                values[key.strip()] = json.loads(raw)
            except json.JSONDecodeError:
                values[key.strip()] = raw
        return self.with_values(values, source="override")

    def with_values(self: C, values: Mapping[str, Any], *, source: str = "setting") -> C:
        """A copy with dotted paths set to Python values (``{"head.dropout": 0.1}``), validated
        like a new config; unknown paths raise naming the allowed keys (:func:`set_known_path`)."""
        data = self.to_dict()
        for key, value in values.items():
            set_known_path(data, key, value, source=source, root=type(self).__name__)
        return type(self).from_dict(data)


def set_known_path(
    tree: dict[str, Any], path: str, value: Any, *, source: str, root: str = "the config"
) -> None:
    """Set ``tree[a][b][c] = value`` for ``path = "a.b.c"`` where every part already exists
    (``tree`` is a config's :meth:`Config.to_dict` form).

    Raises:
        ConfigError: one line naming ``source``, the path, the value and the keys allowed at
            the first unknown part (``root`` names the top level), or the part that holds a
            value where a table of settings was needed.
    """
    node: Any = tree
    parts = path.split(".")
    for i, part in enumerate(parts):
        where = ".".join(parts[:i]) or root
        if not isinstance(node, dict):
            raise ConfigError(f"{source}: {path} = {shown(value)}: {where} is a value, not a table of settings")
        if part not in node:
            raise ConfigError(f"{source}: unknown key {path} = {shown(value)}; allowed in {where}: {', '.join(node)}")
        if i == len(parts) - 1:
            node[part] = value
        node = node[part]
