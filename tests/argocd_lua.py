"""Argo CD's health Lua, run the way Argo CD runs it, in-process with lupa.

Argo CD (util/lua/lua.go) runs a health script in gopher-lua, a Lua 5.1: a fresh state with only
the package, base and table libraries and a reduced os (argocd-cm scripts get no more unless
``useOpenLibs`` is set), the object as the global table ``obj`` (maps as tables with string keys,
lists as arrays, every number a Lua number), the script run as one chunk, and its returned table
read as ``{status, message}``; a status outside Argo CD's set reads Unknown. Here the same, on
lupa's Lua 5.1, with the string library out of reach so that a script using it fails here as it
would in Argo CD.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from lupa import lua51  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[1] / "manifests" / "argocd"
CUSTOMIZATIONS = ROOT / "resource_customizations"
HEALTH_STATUSES = ("Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown")
INVALID = "Lua returned an invalid health status"
# What gopher-lua's base, table and package libraries and Argo CD's safe os leave in reach.
_KEPT = {
    "_G", "_VERSION", "assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall", "print", "rawequal",
    "rawget", "rawset", "select", "setmetatable", "tonumber", "tostring", "type", "unpack", "xpcall", "table",
    "os", "package", "require", "module", "loadstring", "load", "dofile", "loadfile", "collectgarbage",
    "getfenv", "setfenv", "newproxy",
}  # fmt: skip
_SAFE_OS = {"time", "date", "clock", "difftime"}


def _to_lua(runtime: Any, value: Any) -> Any:
    if isinstance(value, Mapping):
        table = runtime.table()
        for key, item in value.items():
            table[str(key)] = _to_lua(runtime, item)
        return table
    if isinstance(value, list):
        return runtime.table(*(_to_lua(runtime, item) for item in value))
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)  # gopher-lua has one number type, a float64
    return str(value)


def _sandbox() -> Any:
    runtime = lua51.LuaRuntime(register_eval=False, register_builtins=False)
    lua_globals = runtime.globals()
    for name in list(lua_globals):
        if name not in _KEPT:
            lua_globals[name] = None
    for name in list(lua_globals.os):
        if name not in _SAFE_OS:
            lua_globals.os[name] = None
    # Lua 5.1 strings index the string library through their metatable; Argo CD never opens it.
    runtime.execute('getmetatable("").__index = {}')
    return runtime


def health(script: str, obj: Mapping[str, Any]) -> dict[str, str]:
    """Argo CD's verdict: {"status": ..., "message": ...} as health_test.yaml writes it."""
    runtime = _sandbox()
    runtime.globals().obj = _to_lua(runtime, obj)
    returned = runtime.execute(script)
    if lua51.lua_type(returned) != "table":
        raise TypeError(f"expect table output from Lua script, not {lua51.lua_type(returned)}")
    status, message = returned["status"], returned["message"]
    if status not in HEALTH_STATUSES:
        return {"status": "Unknown", "message": INVALID}
    return {"status": str(status), "message": "" if message is None else str(message)}


def kinds() -> list[Path]:
    """Each ``<group>/<Kind>`` directory that holds a health.lua."""
    return sorted(path.parent for path in CUSTOMIZATIONS.glob("*/*/health.lua"))


def health_tests(directory: Path) -> list[tuple[Path, dict[str, str]]]:
    """(input file, expected health) of each test in ``directory/health_test.yaml``."""
    tests = yaml.safe_load((directory / "health_test.yaml").read_text())["tests"]
    return [(directory / test["inputPath"], dict(test["healthStatus"])) for test in tests]
