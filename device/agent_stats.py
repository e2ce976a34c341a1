# belay stats: sent on demand (not kept on the board, to spare the micro:bit's heap). Prints one
# repr'd dict of what the agent `_ba` holds and the board's heap, and leaves no names behind.
def _belay_stats():
    import gc

    gc.collect()
    now = _ba.ticks_ms()
    sessions = {}
    for r in _ba.S.values():
        e = r[5] or {}
        sessions[r[0]] = {
            "age_ms": _ba.ticks_diff(now, r[3]),
            "idle_ms": _ba.ticks_diff(now, r[2]),
            "lease_ms": r[1],
            "threads": dict(e.get("t", {})),
            "timers": list(e.get("T", {})),
            "methods": [k for k, o in r[4].items() if type(o) is type(_belay_stats)],
            "files": list(e.get("f", [])),
            "output": sum([len(t) for t in e.get("o", [])]),
            "proxies": len(e.get("p", {})),
        }
    w = getattr(_ba, "W", None)
    return {
        "version": _ba.VERSION,
        "sessions": sessions,
        "reaped": list(_ba.reaped),
        "zombies": _ba.zombies() if w else {},
        "reaper": None
        if not w
        else (w[0] is not None and w[1] is not None and _ba.ticks_diff(now, w[1]) < 5000),
        "mem_free": gc.mem_free(),
        "mem_alloc": gc.mem_alloc(),
    }


_ba.v(_belay_stats())
del _belay_stats
