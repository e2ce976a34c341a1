"""``session.fs``, a session's files on its board.

- :mod:`.facade`: :class:`~belay.session.files.facade.SessionFiles`, what ``session.fs`` is;
- :mod:`.paths`: board paths checked and joined (a leaf);
- :mod:`.transfer` and :mod:`.codec`: moving a file's bytes, and their encodings on the wire;
- :mod:`.tree` and :mod:`.sync`: hashed walks of board folders, and syncing a local folder;
- :mod:`.cache`: what the host knows of one board's files, shared by its sessions;
- :mod:`.errors`: a board's filesystem refusing an operation, said plainly.
"""
