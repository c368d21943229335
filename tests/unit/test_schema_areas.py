"""The schema is built per area (``billfold.adapters.db.schema``): ``schema.metadata`` holds
every table of every area module, and the core alone builds no desk's table."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys

from billfold.adapters.db import schema as t
from billfold.adapters.db.schema import base


def test_the_whole_metadata_has_every_area_modules_tables() -> None:
    whole = set(t.metadata.tables)
    for module in pkgutil.iter_modules(t.__path__):
        importlib.import_module(f"{t.__name__}.{module.name}")
    assert set(base.metadata.tables) == whole  # no area module left out of all_tables
    assert t.metadata is base.metadata
    assert {"billers", "payments", "recon_runs", "complaints", "worker_heartbeats"} <= whole


def test_the_package_builds_the_core_tables_only() -> None:
    probe = (
        "import json, sys\n"
        "from billfold.adapters.db import schema as t\n"
        "from billfold.adapters.db.schema.base import metadata\n"
        "core = sorted(metadata.tables)\n"
        "every = sorted(t.metadata.tables)\n"
        "checks = [c.name for c in t.payments.constraints if c.name and 'ck_' in str(c.name)]\n"
        "print(json.dumps([core, every, checks]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    core, every, checks = json.loads(done.stdout)
    assert "payments" in core and "journal_postings" in core
    assert "recon_runs" not in core and "complaints" not in core and "mandates" not in core
    assert set(core) < set(every) == set(t.metadata.tables)
    assert "ck_payments_status_known" in checks  # the core's CHECKs come with its tables
