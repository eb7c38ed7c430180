"""A memory probe for the benchmark's operator, loaded only when bench puts this directory first
on PYTHONPATH (``make bench BENCH_ARGS=--memprobe``): where the operator's resident memory goes.

A daemon thread writes one JSON line every ``SITEPLANE_BENCH_MEMPROBE_EVERY`` seconds (default 2)
to ``$SITEPLANE_BENCH_MEMPROBE``: resident and peak memory, glibc malloc's own figures (bytes in
use and bytes held free in its heaps) and Python's small-object allocator (bytes in its arenas, in
use and free). Each time the resident size has grown by another 32 MB it adds a census of
garbage-collected objects by type (count and shallow bytes), which names what is alive at the
peak. All of it is cheap next to tracemalloc, which slowed the operator too much to reproduce a
burst of 10,000 Sites.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from types import AsyncGeneratorType, CoroutineType
from typing import Any

_MALLINFO_FIELDS = ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks")


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (*_MALLINFO_FIELDS, "keepcost")]


def _proc_status() -> dict[str, int]:
    wanted = {"VmRSS", "VmHWM", "RssAnon", "RssFile", "Threads"}
    values: dict[str, int] = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in wanted:
                values[key] = int(rest.split()[0])
    return values


_LIBC = ctypes.CDLL("libc.so.6")
_LIBC.mallinfo2.restype = _Mallinfo2


def _malloc() -> dict[str, float]:
    info = _LIBC.mallinfo2()
    mb = 1024 * 1024
    return {
        "heap_mb": round((info.arena + info.hblkhd) / mb, 1),  # all it took from the system
        "in_use_mb": round((info.uordblks + info.hblkhd) / mb, 1),
        "free_held_mb": round(info.fordblks / mb, 1),  # freed, not given back
    }


_STAT = re.compile(
    r"^(# arenas allocated current|# bytes in allocated blocks|# bytes in available blocks)\s*=\s*([\d,]+)", re.M
)


def _pymalloc() -> dict[str, Any]:
    """sys._debugmallocstats() writes to the C stderr: borrow fd 2 for the moment it takes."""
    with tempfile.TemporaryFile(mode="w+") as capture:
        saved = os.dup(2)
        try:
            sys.stderr.flush()
            os.dup2(capture.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        text = capture.read()
    found = {key: int(value.replace(",", "")) for key, value in _STAT.findall(text)}
    return {
        "arenas_mb": found.get("# arenas allocated current", 0),  # 1 MiB each
        "in_use_mb": round(found.get("# bytes in allocated blocks", 0) / 2**20, 1),
        "free_in_pools_mb": round(found.get("# bytes in available blocks", 0) / 2**20, 1),
    }


def _census(top: int = 25) -> dict[str, Any]:
    """Live objects by type; coroutines and async generators also by function, which says whose
    code is suspended (kopf's, siteplane's, asyncio's) and how many of each at once."""
    counts: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    suspended: Counter[str] = Counter()
    for obj in gc.get_objects():
        kind = type(obj)
        name = f"{kind.__module__}.{kind.__qualname__}"
        counts[name] += 1
        with contextlib.suppress(Exception):
            sizes[name] += sys.getsizeof(obj)
        code = obj.cr_code if kind is CoroutineType else obj.ag_code if kind is AsyncGeneratorType else None
        if code is not None:
            suspended[f"{code.co_filename.rsplit('/site-packages/', 1)[-1]}:{code.co_qualname}"] += 1
    return {
        "by_type": [(name, counts[name], round(size / 2**20, 1)) for name, size in sizes.most_common(top)],
        "suspended": suspended.most_common(40),
    }


def _probe(path: str, every: float) -> None:
    begin = time.monotonic()
    next_census_kb = 0
    with open(path, "a", buffering=1) as out:
        while True:
            status = _proc_status()
            sample: dict[str, Any] = {
                "t": round(time.monotonic() - begin, 1),
                "rss_mb": round(status.get("VmRSS", 0) / 1024, 1),
                "peak_mb": round(status.get("VmHWM", 0) / 1024, 1),
                "anon_mb": round(status.get("RssAnon", 0) / 1024, 1),
                "threads": status.get("Threads"),
                "malloc": _malloc(),
            }
            if status.get("VmRSS", 0) >= next_census_kb:
                next_census_kb = status["VmRSS"] + 32 * 1024
                try:
                    sample["pymalloc"] = _pymalloc()
                    sample["census"] = _census()
                except Exception as error:  # a probe that dies silently measures nothing
                    sample["error"] = repr(error)
            out.write(json.dumps(sample) + "\n")
            time.sleep(every)


if path := os.environ.get("SITEPLANE_BENCH_MEMPROBE"):
    every = float(os.environ.get("SITEPLANE_BENCH_MEMPROBE_EVERY", "2"))
    threading.Thread(target=_probe, args=(path, every), name="bench-memprobe", daemon=True).start()
