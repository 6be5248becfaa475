"""The bias generators' digital part (rtl_models/dynapse2/biasgen.v): every (coarse, fine) of every
parameter of every core, against the expectation written from emulator/dynapse2/biasgen.py.

    pytest tests/rtl/dynapse2/test_biasgen.py           # Icarus bench, its self-tests, the code
"""
import re

import numpy as np
import pytest

from emulator.dynapse2 import biasgen as emu
from hil.rtl.benches import biasgen as bench
from hil.rtl.dynapse2 import biasgen as expect
from hil.rtl.dynapse2.build import MODELS
from tests.rtl.benches.support import assert_caught, assert_clean
from tests.rtl.dynapse2.support import result

WRITES = 4 * 23 * 8 * 256 + 4 * 9 * 16
REFUSED = 4 * 23 * 2 * 256 + 4 * 9 * 16


@pytest.mark.rtl
def test_every_setting_of_every_generator_on_icarus():
    r = result("biasgen")
    assert_clean(r, complete=bench.COVERAGE)
    assert {c.name for c in r.checks} == {f"biasgen.{n}" for n in ("outcome", "readback", "code", "bank", "current")}
    assert all(c.stage == "digital" and c.tolerance == "exact" for c in r.checks)
    assert r.check("biasgen.code").compared == r.figures["writes"] == WRITES
    assert r.figures["refused"] == REFUSED
    assert r.check("biasgen.current").compared == WRITES - REFUSED
    assert r.check("biasgen.bank").compared == r.figures["dumps"] * 92
    print(f"biasgen bench on Icarus: {r.seconds:.1f} s")


@pytest.mark.rtl
def test_bench_catches_a_register_that_clamps_instead_of_refusing(tmp_path):
    r = result("biasgen", workdir=tmp_path, plusargs=("+BENCH_MUTATE=1",))
    for check in ("biasgen.outcome", "biasgen.readback", "biasgen.code", "biasgen.bank"):
        assert r.check(check).mismatches > 0, check
    f = assert_caught(r, "biasgen.outcome", inputs=("core", "parameter", "name", "coarse", "fine"))
    assert f["coarse"] == 6 and f["rtl"] == {"done": 1, "refused": 0}


@pytest.mark.rtl
def test_bench_catches_a_wrong_transistor_type(tmp_path):
    r = result("biasgen", workdir=tmp_path, plusargs=("+BENCH_MUTATE=2",))
    assert_caught(r, "biasgen.code", inputs=("core", "parameter", "coarse", "fine"))
    assert_caught(r, "biasgen.current", inputs=("core", "parameter", "coarse", "fine", "code"))
    assert {f["name"] for f in r.check("biasgen.current").failures} == {"Igain_mem"}


@pytest.mark.rtl
@pytest.mark.slow
def test_every_setting_of_every_generator_on_verilator():
    r = result("biasgen", simulator="verilator")
    assert r.simulator == "verilator"
    assert_clean(r, complete=bench.COVERAGE)


def test_the_models_transistor_types_are_the_emulators():
    text = (MODELS / "biasgen.v").read_text()
    mask = int(re.search(r"localparam \[22:0\] P_TYPE = 23'h([0-9A-Fa-f]+);", text).group(1), 16)
    want = sum(1 << p for p, name in enumerate(emu.PARAMETERS) if emu.DEVICE_NAMES[name].endswith("_P"))
    assert mask == want


def test_code_format():
    p = emu.PARAMETERS.index
    assert int(expect.dac_code(p("Itau_mem"), 3, 100)) == (1 << 11) | 100            # N type
    assert int(expect.dac_code(p("Idc"), 0, 0)) == 0x4100                             # P type, the reset
    assert int(expect.dac_code(p("Iw_3"), 5, 255)) == (1 << 14) | (1 << 13) | 255
    kind, coarse, fine, valid = expect.decode(np.array([0x4100, (1 << 11) | 100, 0, 0x0300]))
    assert kind.tolist() == [1, 0, 0, 0] and coarse.tolist()[:2] == [0, 3] and valid.tolist() == [True, True,
                                                                                                     False, False]
    assert fine.tolist()[:2] == [0, 100]


def test_a_codes_current_is_the_emulators():
    rng = np.random.default_rng(1)
    for _ in range(200):
        q, c, f = int(rng.integers(0, 23)), int(rng.integers(0, 6)), int(rng.integers(0, 256))
        name = emu.PARAMETERS[q]
        assert expect.current_of_code(q, int(expect.dac_code(q, c, f))) == float(emu.current(name, c, f))
    assert np.isnan(expect.current_of_code(0, 0))


def test_bank_refuses_what_the_model_refuses():
    b = expect.Bank()
    assert b.write(1, 2, 5, 7) and not b.write(1, 2, 6, 9) and not b.write(0, 23, 0, 0)
    k = int(expect.generator(1, 2))
    assert (b.coarse[k], b.fine[k]) == (5, 7)
    assert b.codes()[k] == expect.dac_code(2, 5, 7)
