# belay file hashes where the board has no hashlib (sent before device/file_tree.py, then
# deleted): FNV-1a 32, computed in 16-bit halves so that no long int is made and nothing is
# allocated per byte. The host computes the same (belay/session/files/tree.py: fnv1a32).
_ba_A="fnv1a32"
def _ba_h():
    return [0x9DC5,0x811C]
def _ba_u(h,d):
    l=h[0]
    p=h[1]
    for c in d:
        l^=c
        t=l*403
        p=(p*403+(l<<8)+(t>>16))&0xFFFF
        l=t&0xFFFF
    h[0]=l
    h[1]=p
def _ba_x(h):
    return "%04x%04x"%(h[1],h[0])
