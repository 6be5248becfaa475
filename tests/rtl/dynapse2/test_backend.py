"""The rtl backend of the dynapse2 family's routing mode (hil.rtl.dynapse2.backend): the RouteLog of
the Verilog router equals hil.dynapse2.models.route, and the backend refuses what it cannot run."""
import numpy as np
import pytest

import hil
from hil.contract.errors import BackendClosed, InvalidValue, Unsupported
from hil.dynapse2 import models
from hil.dynapse2.types import Config, RouteProbe, Stimulus
from hil.rtl.benches import router as bench
from tests.rtl.benches.support import require

pytestmark = pytest.mark.rtl


def _open(tmp_path, simulator="icarus", **kw):
    require(simulator)
    return hil.backend.open("rtl", family="dynapse2", serial="RTL-D2-7", simulator=simulator,
                            workdir=tmp_path / "rtl", **kw)


def _random(seed: int, mesh=(2, 2), probes: int = 2):
    rng = np.random.default_rng(seed)
    a, pool = bench.random_config(rng, mesh)
    return bench.config_of(a, mesh), [bench.probe_of(bench.random_sources(rng, pool, mesh[0] * mesh[1]))
                                      for _ in range(probes)]


def _assert_routes(b, config, probes):
    b.configure(config)
    logs = b.run_probes(probes)
    for log, p in zip(logs, probes):
        want = models.route(config, p)
        assert len(want) > 0
        np.testing.assert_array_equal(log.rows(), want.rows(), err_msg=f"build {b.build_dir}")


def test_info_and_the_routing_of_random_configurations(tmp_path):
    with _open(tmp_path) as b:
        i = b.info()
        assert (i.backend, i.family, i.serial, i.modes) == ("rtl", "dynapse2", "RTL-D2-7", ("routing",))
        assert i.geometry["chips"] == 4 and i.geometry["mesh"] == [2, 2] and "icarus" in i.firmware
        assert len(b.run(RouteProbe(spike_chips=[0, 3], spike_neurons=[1, 1023], input_tags=[5],
                                    input_chips=[2], input_cores=[3]))) == 0     # the default Config
        config, probes = _random(1)
        _assert_routes(b, config, probes)
        log = b.run(probes[0])                         # one probe, one simulation
        np.testing.assert_array_equal(log.rows(), models.route(config, probes[0]).rows())


def test_a_one_chip_board(tmp_path):
    with _open(tmp_path, mesh=(1, 1)) as b:
        assert b.info().geometry["mesh"] == [1, 1]
        config, probes = _random(2, mesh=(1, 1), probes=1)
        _assert_routes(b, config, probes)


def test_what_it_refuses(tmp_path):
    with pytest.raises(InvalidValue, match="simulator"):
        hil.backend.open("rtl", family="dynapse2", simulator="xcelium")
    with pytest.raises(InvalidValue, match=r"mesh\[0\]"):
        hil.backend.open("rtl", family="dynapse2", mesh=(5, 1))
    b = _open(tmp_path)
    with pytest.raises(Unsupported, match="routing"):
        b.run(Stimulus.empty())
    with pytest.raises(Unsupported, match="routing"):
        b.configure(object())
    with pytest.raises(InvalidValue, match="mesh"):
        b.configure(Config.default((1, 2)))
    with pytest.raises(InvalidValue, match="spike_chips"):
        b.run(RouteProbe(spike_chips=[4], spike_neurons=[0], input_tags=[], input_chips=[], input_cores=[]))
    b.close()
    with pytest.raises(BackendClosed):
        b.run(RouteProbe(spike_chips=[], spike_neurons=[], input_tags=[], input_chips=[], input_cores=[]))


@pytest.mark.slow
def test_the_routing_on_verilator(tmp_path):
    with _open(tmp_path, simulator="verilator") as b:
        assert "verilator" in b.info().firmware
        config, probes = _random(3)
        _assert_routes(b, config, probes)
