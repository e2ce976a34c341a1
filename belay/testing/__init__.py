"""The parts of belay's pytest plugin (:mod:`belay.pytest_plugin` wires them together).

- :mod:`belay.testing.ports`: which board each pytest process (or xdist worker) tests.
- :mod:`belay.testing.leaks`: what a test's session left on the board.
- :mod:`belay.testing.blocking_session`: a session driven from a plain ``def`` test.
- :mod:`belay.testing.identity`: capabilities a test requires, and the board's identity in reports.
"""
