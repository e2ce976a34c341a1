# belay capability probe: runs once per board connection, prints one repr'd dict, leaves nothing.
# Runs on MicroPython 1.9 (micro:bit) and newer. Keep it small: the micro:bit has ~9 KB of heap.
def _belay_probe():
    import sys, gc

    def has(name, attr=None):
        try:
            module = __import__(name)
        except ImportError:
            return False
        return attr is None or hasattr(module, attr)

    def emitters():
        found = []
        for emitter in ("native", "viper"):
            try:
                exec("@micropython.%s\ndef _belay_e(): pass" % emitter, {"micropython": __import__("micropython")})
                found.append(emitter)
            except Exception:
                pass
        return tuple(found)

    impl = sys.implementation
    gc.collect()
    return {
        "implementation": impl.name,
        "version": tuple(impl.version[:3]),
        "platform": sys.platform,
        "machine": getattr(impl, "_machine", ""),
        "mpy": getattr(impl, "_mpy", None),
        "threads": has("_thread"),
        "timer": has("machine", "Timer"),
        "schedule": has("micropython", "schedule"),
        "filesystem": has("os", "listdir"),
        "modules_dict": hasattr(sys, "modules"),
        "emitters": emitters(),
        "mem_free": gc.mem_free(),
        "mem_alloc": gc.mem_alloc(),
    }


print(repr(_belay_probe()))
del _belay_probe
