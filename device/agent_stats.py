# belay stats: sent on demand (not kept on the board, to spare the micro:bit's heap). Prints one
# repr'd tuple of what the agent `_ba` holds and the board's heap, and leaves no names behind.
# A tuple, not a dict: no key constants to compile (the micro:bit has ~2 KB blocks to spare);
# the host names the fields (belay/agent/stats_record.py, in the same order).
def _belay_stats():
    import gc

    gc.collect()
    now = _ba.ticks_ms()
    d = _ba.ticks_diff
    s = []
    for r in _ba.S.values():
        e = r[5] or {}
        g = e.get
        s.append((r[0], d(now, r[3]), d(now, r[2]), r[1], dict(g("t", {})), list(g("T", {})),
                  [k for k, o in r[4].items() if type(o) is type(_belay_stats)], list(g("f", [])),
                  sum([len(t) for t in g("o", [])]), len(g("p", {})), list(g("m", []))))
    w = getattr(_ba, "W", None)
    return (_ba.VERSION, s, list(_ba.reaped), _ba.zombies() if w else {},
            None if not w else (w[0] is not None and w[1] is not None and d(now, w[1]) < 5000),
            gc.mem_free(), gc.mem_alloc())


_ba.v(_belay_stats())
del _belay_stats
