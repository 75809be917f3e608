"""The pass registry: pipeline name -> ``"module:Class"``, imported on first use.

Adding a built-in pass is one line in ``PASSES``. Third-party packages add
passes through the ``edgecc.passes`` entry-point group (entry name = pass
name, value = ``module:Class``); built-in names win over plugins.
``register_pass`` adds a class at run time (tests, notebooks).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib
from importlib.metadata import EntryPoint, entry_points

from edgecc.ir.diagnostics import PassError
from edgecc.passes.manager import Pass

PASSES: dict[str, str] = {
    "canonicalize": "edgecc.transforms.canonicalize:Canonicalize",
    "cse": "edgecc.transforms.cse:CSE",
    "dce": "edgecc.transforms.dce:DCE",
    "fold-constants": "edgecc.transforms.fold_constants:FoldConstants",
    "fuse": "edgecc.transforms.fuse:Fuse",
    "layout": "edgecc.transforms.layout:Layout",
    "quantize": "edgecc.transforms.quantize:Quantize",
    "qdq-fold": "edgecc.transforms.quantize:QDQFold",
    "mixed-precision": "edgecc.transforms.mixed_precision:MixedPrecision",
    "prune": "edgecc.compress.prune:Prune",
    "lowrank": "edgecc.compress.lowrank:LowRank",
    "sparsify": "edgecc.compress.sparsity:Sparsify",
    "cluster": "edgecc.compress.cluster:Cluster",
}

#: the optimisation pipeline run after import (CLI, frontend, backend-suite adapter)
DEFAULT_PIPELINE = "canonicalize,fold-constants,layout,fuse,cse,dce"

ENTRY_POINT_GROUP = "edgecc.passes"

_RUNTIME: dict[str, type[Pass]] = {}
_LOADED: dict[str, type[Pass]] = {}


@functools.cache
def plugin_entry_points() -> dict[str, EntryPoint]:
    """Installed plugin passes (read once per process)."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_passes() -> list[str]:
    """Every pass name that ``get_pass`` accepts, sorted."""
    return sorted(set(PASSES) | set(_RUNTIME) | set(plugin_entry_points()))


def register_pass(cls: type[Pass], name: str | None = None) -> type[Pass]:
    """Make ``cls`` available under ``name`` (default ``cls.name``); usable as a decorator."""
    key = name or cls.name
    if not key:
        raise ValueError(f"{cls.__name__} has no pass name")
    _RUNTIME[key] = cls
    _LOADED.pop(key, None)
    return cls


def unregister_pass(name: str) -> None:
    _RUNTIME.pop(name, None)
    _LOADED.pop(name, None)


def get_pass(name: str) -> type[Pass]:
    """The pass class registered as ``name``; ``PassError`` with suggestions if unknown."""
    cls = _LOADED.get(name)
    if cls is not None:
        return cls
    if name in PASSES:
        cls = _import(name, PASSES[name])
    elif name in _RUNTIME:
        cls = _RUNTIME[name]
    elif name in plugin_entry_points():
        ep = plugin_entry_points()[name]
        try:
            cls = ep.load()
        except Exception as e:  # a broken plugin must not look like a missing pass
            raise PassError(f"plugin pass '{name}' ({ep.value}) failed to load: {e}") from e
    else:
        raise PassError(unknown_pass_message(name))
    if not (isinstance(cls, type) and issubclass(cls, Pass)):
        raise PassError(f"pass '{name}' is registered as {cls!r}, which is not a Pass subclass")
    _LOADED[name] = cls
    return cls


def unknown_pass_message(name: str) -> str:
    names = available_passes()
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown pass '{name}'{hint}; registered passes: {', '.join(names)}"


def describe_passes() -> str:
    """A listing of every pass with its summary and options (for ``edgecc opt --list-passes``)."""
    from edgecc.passes.pipeline import format_value

    lines = []
    for name in available_passes():
        try:
            cls = get_pass(name)
        except PassError as e:
            lines.append(f"{name}\n    ({e.message})")
            continue
        lines.append(f"{name}\n    {cls.summary()}")
        types = cls.option_types()
        for f in cls.options():
            default = "" if f.default is dataclasses.MISSING else f"={format_value(f.default)}"
            doc = f.metadata.get("doc", "")
            lines.append(f"      {f.name.replace('_', '-')}{default}  [{_type_name(types[f.name])}]  {doc}")
    return "\n".join(lines)


def _type_name(annotation) -> str:
    return getattr(annotation, "__name__", None) if isinstance(annotation, type) else str(annotation)


def _import(name: str, target: str) -> type:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise PassError(f"pass '{name}' is registered as {target}, but importing it failed: {e}") from e
    try:
        return getattr(module, attr)
    except AttributeError:
        raise PassError(f"pass '{name}' is registered as {target}, but {module_name} has no {attr}") \
            from None


__all__ = ["ENTRY_POINT_GROUP", "PASSES", "available_passes", "describe_passes", "get_pass", "register_pass",
           "unknown_pass_message", "unregister_pass"]
