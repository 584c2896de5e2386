"""Every test of this plugin runs with the network blocked: nothing may download."""

import pytest

from mmeval.testing import no_network


@pytest.fixture(autouse=True, scope="session")
def _no_network():
    with no_network():
        yield
