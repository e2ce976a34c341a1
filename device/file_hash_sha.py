# belay file hashes where the board has hashlib (sent before device/file_tree.py, then
# deleted): sha256. Without hashlib it raises ImportError('belay:nohashlib') and the host
# sends device/file_hash_fnv.py instead. Written densely: every byte crosses the line.
try:
    from hashlib import sha256 as _ba_h
except ImportError:
    raise ImportError("belay:nohashlib")
_ba_A="sha256"
def _ba_u(h,d):
    h.update(d)
def _ba_x(h):
    return __import__("binascii").hexlify(h.digest()).decode()
