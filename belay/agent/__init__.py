"""The agent's host side: installing ``device/belay_agent*.py`` on a board, the code strings
that call it (:mod:`belay.agent.calls`, the only module that knows its names), and reading its
answers (:mod:`belay.agent.answers`)."""
