# belay_agent_proxies: board objects kept on the board for a session, in its extras under "p"
# (id -> object), and reached by id and a path of steps (("a", name) an attribute, ("i", key)
# an item). Written with the agent and imported the first time a session on the board makes a
# proxy (not resident before); it installs P into the agent core, and `proxy` for a task that
# returns one explicitly (belay_agent.proxy(obj) answers a marker its session adopts when the
# call ends).
# P(op, token, id or expression, path, then the op's own arguments); m: what its result is
# answered as (0: a literal copied, 1-2: an immutable value copied, 4: always kept). Answers are (0, value)
# for a value, (1, id, str(type)) for an object kept as a new proxy, 2 at an iterator's end.
# An expression ("e") is always kept; an attribute, item or iterated value ("g", "x") comes
# back as a value when it is immutable, else kept; a call's result ("c") as a value when it is
# a literal (a fresh copy the host may keep), else kept; "v" copies a literal, else (3, type).
import belay_agent as A

N = [0]
W = {}

# Whether o is a literal (m: only an immutable one: numbers, bools (no int on MicroPython), str,
# bytes, None, tuples of those), without recursion (the micro:bit's stack holds a few calls); a
# cycle is no literal.
def lit(o, m):
    s = [o]
    n = 0
    while s:
        o = s.pop()
        n += 1
        if n > 500:
            return 0
        if isinstance(o, tuple) or not m and isinstance(o, (list, set)):
            s.extend(o)
        elif isinstance(o, dict) and not m:
            s.extend(o.items())
        elif not isinstance(o, (int, float, str, bytes, bool, type(None))):
            return 0
    return 1

def keep(q, o):
    N[0] += 1
    q[N[0]] = o
    return N[0]

def P(*a, **k):
    c = a[0]
    m = "cgx e".find(c)
    q = A.x(a[1]).setdefault("p", {})
    if c == "a":
        q.update(W)
        W.clear()
        return
    if c == "d":
        q.pop(a[2], None)
        return
    if c == "x":
        try:
            o = next(q[a[2]])
        except StopIteration:
            q.pop(a[2], None)
            A.v(2)
            return
    elif c == "e":
        g = A.g(a[1])
        try:
            o = eval(a[2], g)
        finally:
            A.d()
    else:
        o = q[a[2]]
        for s in a[3]:
            o = getattr(o, s[1]) if s[0] == "a" else o[s[1]]
        if c == "l":
            return A.v(len(o))
        if c == "n":
            return A.v(a[4] in o)
        if c == "i":
            return A.v(keep(q, iter(o)))
        if c == "s":
            if isinstance(a[4], str) and not isinstance(o, dict):
                setattr(o, a[4], a[5])
            else:
                o[a[4]] = a[5]
            return
        if c == "v":
            return A.v((0, o) if lit(o, 0) else (3, str(type(o))))
        if c == "c":
            A.g(a[1])
            try:
                o = o(*a[4:], **k)
            finally:
                A.d()
    A.v((0, o) if m < 3 and lit(o, m) else (1, keep(q, o), str(type(o))))

def proxy(o):
    N[0] += 1
    W[N[0]] = o
    return ("\x1bproxy", N[0], str(type(o)))

A.P = P
A.proxy = proxy
