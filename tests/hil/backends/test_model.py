"""The model as a device: experiments run on it give the model's own value of every metric."""
import numpy as np
import pytest

import hil
from hil.bss2 import MacConfig, MacModel, MacStimulus
from hil.errors import InvalidValue, Unsupported


def test_the_model_device_draws_the_models_noise_per_run():
    W = np.full((128, 512), 21, np.int8)
    x = np.full((200, 128), 15, np.uint8)
    x[:, 100:] = 0
    with hil.backend.open("model", seed=4) as m, hil.backend.open("model", seed=4) as again:
        a = m.configure_and_run(MacConfig(W), MacStimulus(x)).outputs
        b = again.configure_and_run(MacConfig(W), MacStimulus(x)).outputs
        np.testing.assert_array_equal(a, b)           # the same seed, the same outputs
        c = m.run(MacStimulus(x)).outputs
        assert m.run_counter == 2 and not np.array_equal(a, c)
        # 200 x 512 draws of floor(59.85 + N(0, 2)): mean 59.35, standard error 2.02 / 320.
        assert abs(a.mean() - MacModel().expected_mean(x[0], W[:, :1])[0]) < 5 * 2.02 / 320


def test_the_ideal_model_device_is_the_ideal_chip():
    W = np.random.default_rng(0).integers(-63, 64, (128, 512)).astype(np.int8)
    x = np.random.default_rng(1).integers(0, 32, (10, 128)).astype(np.uint8)
    s = MacStimulus(x, num_sends=30, wait_between_events=300)
    with hil.backend.open("model", ideal=True) as m, hil.backend.open("emulator", ideal=True) as chip:
        np.testing.assert_array_equal(m.configure_and_run(MacConfig(W), s).outputs,
                                      chip.configure_and_run(MacConfig(W), s).outputs)
        assert m.info().ideal and m.info().backend == "model"


def test_the_model_device_refuses_what_it_cannot_run():
    with hil.backend.open("model") as m:
        with pytest.raises(InvalidValue, match="configuration"):
            m.run(MacStimulus(np.zeros((1, 128), np.uint8)))
        with pytest.raises(Unsupported):
            m.run(hil.bss2.CadcRamp(np.arange(10, dtype=np.uint16)))
    with pytest.raises(InvalidValue, match="seed"):
        hil.backend.open("model", seed=-1)
