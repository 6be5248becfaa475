"""Every test starts with the default mock parameters and no active session, and leaves them so."""
import pytest
import torch

from hil.torch import perceptron


@pytest.fixture(autouse=True)
def clean_perceptron_state():
    before = perceptron.get_mock_parameter()
    torch.manual_seed(0)
    yield
    perceptron.set_mock_parameter(before)
    perceptron.release()
