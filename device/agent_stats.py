# belay stats: sent on demand (not kept on the board, to spare the micro:bit's heap). Prints one
# repr'd dict of what the agent `_ba` holds and the board's heap, and leaves no names behind.
def _belay_stats():
    import gc

    gc.collect()
    now = _ba.ticks_ms()
    sessions = {}
    for s in _ba.S.values():
        sessions[s.sid] = {
            "age_ms": _ba.ticks_diff(now, s.born),
            "idle_ms": _ba.ticks_diff(now, s.seen),
            "lease_ms": s.lease,
            "threads": dict(s.threads),
            "timers": list(s.timers),
            "methods": dict(s.methods),
            "files": list(s.files),
            "output": sum([len(t) for t in s.out]),
        }
    return {
        "version": _ba.VERSION,
        "sessions": sessions,
        "reaped": list(_ba.reaped),
        "zombies": _bat.zombies() if "_bat" in globals() else {},
        "mem_free": gc.mem_free(),
        "mem_alloc": gc.mem_alloc(),
    }


print(repr(_belay_stats()))
del _belay_stats
