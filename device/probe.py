# belay capability probe: runs once per board connection, prints one repr'd tuple, leaves nothing.
# Runs on MicroPython 1.9 (micro:bit) and newer. Every new name or key a board compiles stays
# in its heap as an interned string until the next reset (1.4 KB on the micro:bit when this was
# a dict), so the answer is a tuple in FIELDS order (belay/board_info.py) and the names are short.
def _bp():
    import sys, gc

    def h(n, a=None):
        try:
            m = __import__(n)
        except ImportError:
            return 0
        return a is None or hasattr(m, a)

    e = []
    for k in ("native", "viper"):
        try:
            exec("@micropython.%s\ndef f(): pass" % k, {"micropython": __import__("micropython")})
            e.append(k)
        except Exception:
            pass
    i = sys.implementation
    gc.collect()
    return (
        i.name, tuple(i.version[:3]), sys.platform, getattr(i, "_machine", ""), getattr(i, "_mpy", None),
        h("_thread"), h("machine", "Timer"), h("micropython", "schedule"), h("os", "listdir"),
        hasattr(sys, "modules"), tuple(e), gc.mem_free(), gc.mem_alloc(),
    )


print(repr(_bp()))
del _bp
