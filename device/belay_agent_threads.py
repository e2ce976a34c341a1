# belay_agent_threads: background threads and timers for belay sessions, on boards with _thread
# (and machine.Timer where there is one; a software timer thread otherwise).
import _thread

import belay_agent as A


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


def thread(sid, name, fname, args):
    s = A.get(sid)
    rec = s.threads[name] = ["running", None]
    _thread.start_new_thread(_guard, (s, name, rec, s.ns[fname], args))


def _tick(s, name, fn, period, args):
    while not s.stop and name in s.timers:
        A.sleep_ms(period)
        if not s.stop and name in s.timers:
            fn(*args)


def timer(sid, name, fname, period, args):
    s = A.get(sid)
    fn = s.ns[fname]
    try:
        from machine import Timer
    except ImportError:
        s.timers[name] = None
        rec = s.threads[name] = ["running", None]
        _thread.start_new_thread(_guard, (s, name, rec, _tick, (s, name, fn, period, args)))
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


def cancel_timer(sid, name):
    handle = A.get(sid).timers.pop(name)
    if handle:
        handle.deinit()
