"""The faults a virtual board can carry, from ``--fault`` options."""

import pytest

from hil.server.faults import LinkFaults, parse_faults


def test_faults_parse():
    chip, link = parse_faults(["dead-neuron=3,4", "stuck-bit=0:2:3:5:1", "noisy-neuron=7:2.5",
                               "missing-codes=10-12,40", "drop-after=5", "slow=0.1"])
    assert chip.dead_neurons == (3, 4) and chip.noisy_neurons == ((7, 2.5),)
    assert chip.missing_codes == (10, 11, 12, 40) and chip.stuck_bits[0].bit == 5
    assert link == LinkFaults(drop_after=5, slow_s=0.1)
    with pytest.raises(ValueError, match="unknown fault 'melt'"):
        parse_faults(["melt=1"])
    with pytest.raises(ValueError, match="dead_neurons"):
        parse_faults(["dead-neuron=999"])
