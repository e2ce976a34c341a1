# belay file trees: sent on demand after a hash part (device/file_hash_*.py: _ba_A, _ba_h,
# _ba_u, _ba_x); belay/agent/calls.py appends the call and deletes every name after it.
# _ba_t(root, expect, algorithm, digits, ignore) walks the board path `root` (skipping the
# names in it that start with `ignore`, if given) and prints one repr'd line per entry, so
# an answer of any length never sits whole in the heap:
#   (folder,)              every folder but the root
#   (folder, 0)            a folder in `expect` whose digest is not that: its files follow
#   (path, size, hash)     every file of a folder not in `expect`, or whose digest differs
# Paths are relative to root; hashes are cut to `digits` hex digits ("" when digits is 0).
# A folder's digest hashes "name\0size\0hash\n" of its files (full hashes, names sorted), and
# is only compared when `algorithm` is the board's. Returns (algorithm, kind, flat): kind 0
# missing, 1 a file, 2 a folder; flat: the board has no folders. Few nested calls (the
# micro:bit's stack is short); written densely, as every byte crosses the line.
def _ba_f(p,b):
    h=_ba_h()
    f=open(p,"rb")
    try:
        while 1:
            k=f.readinto(b)
            if not k:break
            _ba_u(h,b if k==len(b) else b[:k])
    finally:
        f.close()
    return _ba_x(h)
def _ba_j(p,m):
    return p.rstrip("/")+"/"+m if p else m
def _ba_s(o,p):
    try:
        if hasattr(o,"stat"):
            s=o.stat(p)
            return s[0]&0x4000,s[6]
        return 0,o.size(p)
    except OSError:
        return None
# folder d of root r: prints its subfolders, its files unless its digest is the one
# expected; returns the subfolders
def _ba_d(o,r,d,e,A,n,b,i):
    J=_ba_j
    p=J(r,d)
    x=d in e and _ba_A==A
    q=[]
    for w in (0,1):
        h=_ba_h() if x else 0
        for m in sorted(o.listdir(p) if p else o.listdir()):
            if i and not d and m.startswith(i):continue
            s=_ba_s(o,J(p,m))
            if s is None:continue
            if s[0]:
                if not w:
                    q.append(J(d,m))
                    print(repr((q[-1],)))
                continue
            c=_ba_f(J(p,m),b) if n else ""
            if x:_ba_u(h,bytes("%s\0%d\0%s\n"%(m,s[1],c),"utf8"))
            else:print(repr((J(d,m),s[1],c[:n])))
        if not x or _ba_x(h)[:len(e[d])]==e[d]:return q
        x=0
        print(repr((d,0)))
def _ba_t(r,e,A,n,i):
    import os
    b=bytearray(64)
    k=_ba_s(os,r) if r else (1,0)
    if k and k[0]:
        q=[""]
        while q:q+=_ba_d(os,r,q.pop(),e,A,n,b,i)
    elif k:print(repr(("",k[1],_ba_f(r,b)[:n] if n else "")))
    return _ba_A,2 if k and k[0] else 1 if k else 0,not hasattr(os,"mkdir")
