# belay_agent_generators: generator tasks. Written with the agent, imported the first time a
# session on the board starts one (not resident before, to spare the micro:bit's heap); it
# installs gen/step/drop into the agent core. A session's generators live in its extras
# under "g" (id -> generator) and go when the host drops them or the session ends (its
# extras go with it). Each step runs the generator to its next value, as Python does:
# nothing runs ahead of the host.
import belay_agent as A

def gen(*a, **k):  # token, id, function name, then the call's own arguments
    f = A.g(a[0])[a[2]]
    A.d()
    A.x(a[0]).setdefault("g", {})[a[1]] = f(*a[3:], **k)

def step(t, i):
    q = A.x(t)["g"]
    A.g(t)
    try:
        o = (1, next(q[i]))
    except StopIteration:
        o = 0
    except BaseException:
        q.pop(i, None)
        raise
    finally:
        A.d()
    if not o:
        q.pop(i, None)
    A.v(o)

def drop(t, i):
    A.x(t).get("g", {}).pop(i, None)

A.gen = gen
A.step = step
A.drop = drop
