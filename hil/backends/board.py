"""BoardBackend: a board on the network, through the pyvisa board driver.

>>> backend = hil.backend.open("board", resource="TCPIP::127.0.0.1::5025::SOCKET")
"""
import dataclasses

from drivers.board import BoardDriver
from drivers.protocol import new_token

from ..contract import wire
from ..contract.backend import ANY_FAMILY, Backend, DeviceInfo, register
from ..contract.errors import InvalidValue


@register("board", family=ANY_FAMILY)
class BoardBackend(Backend):
    """The Backend contract over the board protocol (docs/protocol.md).

    resource: VISA resource, ``TCPIP::<host>::<port>::SOCKET``.
    timeout_s: answer time-out, seconds.
    lease: lease the board while open (the default), so that no other connection can
        reconfigure it between this backend's configuration and its runs. The lease
        ends when the backend is closed (or its process dies). ``lease=False`` shares the
        board: another client's CONF or *RST then makes this backend's next run fail with
        BoardError 103 (never a silently wrong result), and this backend's own can do
        the same to others.
    token: the lease's owner token; by default a fresh one of 128 random bits. Give one
        to join a lease held elsewhere under it (the pytest session's board).
    expected_serial: refuse a board whose ``*IDN?`` serial differs.
    family: refuse a board whose chip is of another family (None: any).

    Its :attr:`run_counter` is the board's own (``CHIP:RUN?``), so that a run on it can be
    matched with the emulator of the same serial at the same counter, whoever used the
    board before.
    """

    run_counter_kind = "board"

    def __init__(self, resource: str, *, timeout_s: float = 10.0, lease: bool = True, token: str | None = None,
                 expected_serial: str | None = None, family: str | None = None):
        super().__init__()
        if not lease and token is not None:
            raise InvalidValue("token", "a token leases the board; it cannot be given with lease=False")
        if lease and token is None:
            token = new_token("hil")
        self.driver = BoardDriver(resource, timeout_s=timeout_s)
        try:
            i = self.driver.info()
            if expected_serial is not None and i["serial"] != expected_serial:
                raise InvalidValue("expected_serial", f"{resource} answers serial {i['serial']!r}, "
                                   f"not {expected_serial!r}")
            if family is not None and i["family"] != family:
                raise InvalidValue("family", f"{resource} holds a {i['family']} chip, not a {family} one")
            self._info = DeviceInfo(backend="board", family=i["family"], serial=i["serial"], model=i["model"],
                                    firmware=i["firmware"], geometry=i["geometry"], modes=tuple(i["modes"]),
                                    ideal=bool(i["ideal"]),
                                    # A virtual board says what faults it carries; firmware may not.
                                    faults=i.get("faults"))
            if lease:
                self.driver.lock(token)
        except BaseException:
            self.driver.close()
            raise

    def info(self) -> DeviceInfo:
        return self._info

    @property
    def run_counter(self) -> int:
        """The board's run counter now: the runs its chip has made since power-on."""
        self._check_open()
        return self.driver.run_counter()

    def identity(self) -> dict:
        """vendor, model, serial, firmware as the board answers ``*IDN?`` now."""
        self._check_open()
        return dataclasses.asdict(self.driver.identity())

    def _encode(self, obj):
        if not hasattr(type(obj), "wire_name"):
            raise self._unsupported(obj, self._info.modes)
        return wire.encode(obj)

    def configure(self, config) -> None:
        self._check_open()
        header, arrays = self._encode(config)
        self.driver.configure(header, arrays)

    def run(self, stimulus):
        self._check_open()
        header, arrays = self._encode(stimulus)
        meta, out = self.driver.read(header, arrays)
        return wire.decode(meta, out)

    def configure_and_run(self, config, stimulus):
        """Both in one round trip (docs/protocol.md: a READ? behind a refused CONF is refused)."""
        self._check_open()
        conf_header, conf_arrays = self._encode(config)
        header, arrays = self._encode(stimulus)
        meta, out = self.driver.configure_and_read(conf_header, conf_arrays, header, arrays)
        return wire.decode(meta, out)

    def reset(self) -> None:
        self._check_open()
        self.driver.reset()

    def close(self) -> None:
        if not self.closed:
            self.driver.close()
        super().close()
