"""Every test starts without an active spiking session and with torch's generator seeded; the
tests in the loop share one ideal emulated chip (no mismatch, no noise: the exact LIF)."""
import pytest
import torch

import hil
from hil.torch import spiking


@pytest.fixture(autouse=True)
def clean_spiking_state():
    torch.manual_seed(0)
    yield
    spiking.release()


@pytest.fixture(scope="module")
def ideal_chip():
    with hil.backend.open("emulator", ideal=True) as chip:
        yield chip


class Recorder(hil.backend.Backend):
    """A device that passes everything on to ``inner`` and keeps what it was given."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.configs, self.stimuli = [], []

    def info(self):
        return self.inner.info()

    def configure(self, config):
        self.configs.append(config)
        self.inner.configure(config)

    def run(self, stimulus):
        self.stimuli.append(stimulus)
        return self.inner.run(stimulus)


@pytest.fixture
def recorder(ideal_chip):
    return Recorder(ideal_chip)
