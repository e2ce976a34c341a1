"""``session.fs``, a session's files on its board.

- :mod:`.facade`: :class:`~belay.session.files.facade.SessionFiles`, what ``session.fs`` is;
- :mod:`.paths`: board paths checked and joined (a leaf);
- :mod:`.transfer`, :mod:`.writes` and :mod:`.batch`: moving a file's bytes (their encodings
  on the wire: :mod:`belay.protocol.codec`), whole or not at all, many small files to a call;
- :mod:`.tree` and :mod:`.sync`: hashed walks of board folders, and syncing a local folder;
- :mod:`.cache`: what the host knows of one board's files, shared by its sessions;
- :mod:`.errors`: a board's filesystem refusing an operation, said plainly.
"""
