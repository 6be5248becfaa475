"""A board whose link fails ends acceptance in a link outcome ("board unreachable", "link
unreliable"), never in a chip verdict."""
import warnings

import pytest

import hil
from hil.acceptance.runner import UNREACHABLE, UNRELIABLE, link_outcome, run_acceptance
from hil.acceptance.spec import parse_spec
from hil.cli import main
from hil.cli.exit_codes import EXIT_LINK
from hil.server.process import BoardProcess


LINK_SPEC = """[spec]
name = "link-test"
version = "1"
family = "bss2"
description = "one cheap experiment, for the link outcome"
[experiments."bss2.cadc_transfer"]
repeats = 4
[metrics."bss2.cadc_transfer".offset_outside_channels]
limit = "model"
comparison = "<="
source = "test"
"""


@pytest.mark.board
def test_a_dropping_board_ends_in_a_link_outcome_not_a_verdict(tmp_path):
    spec = parse_spec(LINK_SPEC)
    # drop-after=4: the connection opens and leases, then drops during the run's readout.
    with BoardProcess(serial="EMU-0042", extra_args=("--fault", "drop-after=4")) as proc:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with hil.backend.open("board", resource=proc.resource) as b:
                a = run_acceptance(b, spec)
        assert a.link == UNRELIABLE and a.outcome == "LINK UNRELIABLE" and a.verdict == "LINK UNRELIABLE"
        assert not a.passed and a.runs[0].link == UNRELIABLE and "RunInterrupted" in a.runs[0].error
        path = tmp_path / "spec.toml"
        path.write_text(LINK_SPEC)
        code = main(["accept", "--backend", "board", "--resource", proc.resource, "--spec", str(path),
                     "--out", str(tmp_path / "cert"), "--store", str(tmp_path / "store"), "--no-plots"])
        assert code == EXIT_LINK


@pytest.mark.board
def test_a_slow_or_absent_board_is_a_link_outcome():
    with BoardProcess(serial="EMU-0042", extra_args=("--fault", "slow=0.5")) as proc:
        with pytest.raises(ConnectionError) as slow:
            hil.backend.open("board", resource=proc.resource, timeout_s=0.2)
        resource = proc.resource
    assert link_outcome(slow.value) == UNRELIABLE
    with pytest.raises(ConnectionError) as gone:      # the server has exited: nobody listens there
        hil.backend.open("board", resource=resource, timeout_s=1.0)
    assert link_outcome(gone.value) == UNREACHABLE
    assert link_outcome(ValueError("levels[0]: 2000 is outside 0..1022")) == ""
