"""The board-protocol server (docs/protocol.md) and the virtual board.

- :mod:`.commands`: the protocol's commands executed on any Backend, one
  :class:`~.commands.Session` per connection; it does not know what carries the bytes;
- :mod:`.connection`: one connection over any byte stream (deadlines, answers, clean-up);
- :mod:`.limits`: the bounds of a server (:class:`~.limits.Limits`) and its memory budget;
- :mod:`.tcp`: the TCP transport, :class:`~.tcp.VirtualBoard` (``hil serve``);
- :mod:`.faults`: the faults a virtual board can carry (``--fault``);
- :mod:`.process`: ``hil serve`` in a child process, for fixtures and benchmarks;
- :mod:`.pytest_pool`: the boards a pytest session leases (``--board``, ``--boards``).
"""
