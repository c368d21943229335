"""``billfold billers lookup-check``: what the payer pages ask besides the identifier."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from billfold.adapters.cli.app import app
from billfold.engine import Engine
from billfold.merchants.biller import LookupCheck

runner = CliRunner()


def test_a_biller_asks_for_the_payers_name_and_bad_values_change_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    runner.invoke(app, ["db", "upgrade", "--database-url", url])
    runner.invoke(
        app, ["billers", "create", "w1", "水司", "--kind", "utility", "--database-url", url]
    )
    args = ["billers", "lookup-check", "w1", "name_last_char", "--reason", "防枚举"]
    done = runner.invoke(app, [*args, "--database-url", url])
    assert done.exit_code == 0, done.stderr
    assert done.stdout.strip() == "biller w1: lookup check name_last_char"
    bad = runner.invoke(
        app, ["billers", "lookup-check", "w1", "birthday", "--reason", "x", "--database-url", url]
    )
    assert bad.exit_code == 2 and "'birthday' is not one of" in bad.stderr
    unknown = runner.invoke(
        app, ["billers", "lookup-check", "zz", "name", "--reason", "x", "--database-url", url]
    )
    assert unknown.exit_code == 1 and "biller 'zz' does not exist" in unknown.stderr
    engine = Engine.from_url(url)
    try:
        assert engine.biller("w1").lookup_check is LookupCheck.NAME_LAST_CHAR
    finally:
        engine.close()
