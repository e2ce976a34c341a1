"""Sessions: their life on a board, and what they do there.

The session's life lives here: the manager (:mod:`.manager`), the session (:mod:`.session`),
the board its sessions share (:mod:`.board`), their states (:mod:`.state`), records
(:mod:`.records`), resources (:mod:`.tracker`), beginning and ending on the board
(:mod:`.opening`), reaping (:mod:`.reaping`) and the heap budget (:mod:`.budget`). What a
session does is in two rooms: :mod:`belay.session.functions` (tasks, generators, proxies) and
:mod:`belay.session.files` (``session.fs``).
"""
