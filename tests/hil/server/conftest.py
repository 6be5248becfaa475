"""Virtual boards with chosen limits, for the server's tests."""
import pytest

import hil
from hil.server.faults import LinkFaults
from hil.server.limits import Limits
from hil.server.tcp import VirtualBoard


@pytest.fixture
def make_board():
    """Factory: ``make_board(serial=..., ideal=..., **limits)`` starts a VirtualBoard on a free
    loopback port with those :class:`~hil.server.limits.Limits` (``make_board.unstarted(...)``
    only makes it); all are closed at the end."""
    boards = []

    def unstarted(serial: str = "EMU-ABUSE", ideal: bool = False, link_faults: LinkFaults = LinkFaults(),
                  **limits) -> VirtualBoard:
        backend = hil.backend.open("emulator", serial=serial, ideal=ideal)
        board = VirtualBoard(backend, port=0, link_faults=link_faults, limits=Limits(**limits))
        boards.append(board)
        return board

    def make(*args, **kwargs) -> VirtualBoard:
        return unstarted(*args, **kwargs).start()

    make.unstarted = unstarted
    yield make
    for b in boards:
        b.close()
