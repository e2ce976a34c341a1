# belay_agent_threads: background threads and timers for belay sessions, on boards with _thread
# (and machine.Timer where there is one; a software timer thread otherwise), and the reaper
# that ends sessions whose lease ran out even when no host comes back.
import _thread

import belay_agent as A

B = [None]  # when the call in progress began (None: no call)
R = {}  # "sid/name" -> [state, error] of every running thread; zombies() are those whose session ended
W = []  # the reaper, once started

def _guard(s, name, rec, fn, args):
    A.T[_thread.get_ident()] = s
    try:
        fn(*args)
        rec[0] = "finished"
    except Exception as err:
        rec[0] = "crashed"
        rec[1] = "%s: %s" % (type(err).__name__, err)
        s.keep("thread %s crashed: %s\n" % (name, rec[1]))
    A.T.pop(_thread.get_ident(), None)
    R.pop(s.sid + "/" + name, None)


def thread(t, name, fname, args):
    s = A.get(t)
    _start(s, name, s.ns[fname], args)


def _start(s, name, fn, args):
    rec = s.threads[name] = R[s.sid + "/" + name] = ["running", None]
    _thread.start_new_thread(_guard, (s, name, rec, fn, args))


def zombies():
    live = [s.sid for s in A.S.values()]
    return dict([(k, r) for k, r in R.items() if k.split("/")[0] not in live])


def _tick(s, name, fn, period, args):
    while not s.stop and name in s.timers:
        A.sleep_ms(period)
        if not s.stop and name in s.timers:
            fn(*args)


def timer(t, name, fname, period, args):
    s = A.get(t)
    fn = s.ns[fname]
    try:
        from machine import Timer
    except ImportError:
        s.timers[name] = None
        _start(s, name, _tick, (s, name, fn, period, args))
        return

    def fire(t):
        A.T[-1] = 1
        try:
            fn(*args)
        except Exception as err:
            s.keep("timer %s crashed: %s\n" % (name, err))
        A.T[-1] = 0

    handle = Timer(-1)
    handle.init(period=period, mode=Timer.PERIODIC, callback=fire)
    s.timers[name] = handle


def cancel_timer(t, name):
    handle = A.get(t).timers.pop(name)
    if handle:
        handle.deinit()


# Calls that keep the reaper off while they run, and renew the leases that were live when a
# long call began (no host could renew them meanwhile). They replace the core's x, e and c.
def _on(t):
    B[0] = A.ticks_ms()
    return A.get(t)


def _done():
    b = B[0]
    n = A.ticks_ms()
    if A.ticks_diff(n, b) > 99:
        for o in A.S.values():
            if A.ticks_diff(b, o.seen) < o.lease:
                o.seen = n
    B[0] = None


def x(t, code):
    try:
        exec(code, _on(t).ns)
    finally:
        _done()


def e(t, expr):
    try:
        v = eval(expr, _on(t).ns)
    finally:
        _done()
    A._p(repr(v))


def c(t, name, *a, **k):
    try:
        v = _on(t).ns[name](*a, **k)
    finally:
        _done()
    A._p(repr(v))


A.x, A.e, A.c = x, e, c


def _reap(_):
    # Never while a call runs: it holds the line, so its host cannot renew leases meanwhile.
    if B[0] is None:
        A.reap()


def _reaper(period):
    while 1:
        A.sleep_ms(period)
        _reap(0)


def start_reaper(period=250):
    # A soft machine.Timer where there is one (rp2 has a single spare core for _thread), else a thread.
    if W:
        return
    try:
        from machine import Timer
        from micropython import schedule

        W.append(Timer(-1))
        W[0].init(period=period, mode=Timer.PERIODIC, callback=lambda h: schedule(_reap, 0))
    except Exception:
        W[:] = [1]
        _thread.start_new_thread(_reaper, (period,))
