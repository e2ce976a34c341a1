# belay part sweep: sent on demand (belay/agent/calls/parts.py), deleted after it ran.
# _ba_p(path, keep) removes, under board folder `path` ("" for the working folder), the partial
# files of puts that never finished: ".belay-<session id>-<n>.part" (or ".<k>" pieces where a
# board cannot rename) whose session id is not in `keep`; returns how many it removed.
# Written densely, as every byte crosses the line.
def _ba_p(p,keep):
    import os
    n=0
    try:
        es=[(e[0],e[1]) for e in os.ilistdir(p or ".")] if hasattr(os,"ilistdir") else [(e,0) for e in os.listdir()]
    except OSError:
        return 0
    for m,k in es:
        q=p+"/"+m if p else m
        s=m[7:].split("-")
        if k==0x4000:
            n+=_ba_p(q,keep)
        elif m[:7]==".belay-" and len(s)==2 and s[0] not in keep and s[1][:1] in "0123456789":
            try:
                os.remove(q)
                n+=1
            except OSError:
                pass
    return n
