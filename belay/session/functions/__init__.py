"""Code a session sends to its board and calls there: tasks and threads (:mod:`.tasks`), the checks
their source passes before it is sent (:mod:`.source`), generators (:mod:`.generators`) and
proxies of board objects (:mod:`.proxies`)."""
