"""Exit codes of the ``hil`` command (see ``hil --help``)."""

EXIT_PASS = 0
"""Every judged metric passed (``hil boards``: every board is ok)."""
EXIT_FAIL = 1
"""A metric failed; for ``demo`` also an experiment that raised; for ``boards`` a board not ok."""
EXIT_USAGE = 2
"""A usage or validation error: the message names what was wrong; no traceback."""
EXIT_INTERNAL = 3
"""An unexpected internal error, with its traceback."""
EXIT_LINK = 4
"""``hil accept``: the link failed (board unreachable, or link unreliable): no chip verdict."""
EXIT_INTERRUPTED = 130
"""Interrupted (Ctrl-C): 128 + SIGINT."""
EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE, what a shell reports for a closed pipe."""
