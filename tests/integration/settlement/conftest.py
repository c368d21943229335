"""The ``desk`` fixture: a back office on the test database (see recon_fixtures.py)."""

from __future__ import annotations

import pytest
from recon_fixtures import Desk  # type: ignore[import-not-found]

from billfold import Engine, FixedClock
from billfold.settlement.reconciler import Reconciler


@pytest.fixture
def desk(engine: Engine, clock: FixedClock) -> Desk:
    return Desk(engine, clock, Reconciler(engine))
