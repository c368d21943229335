"""The confirm path's driver-level statements: a compiled statement is only ever reused for
the very statement object it was compiled from."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import String, literal, literal_column, select

from billfold.adapters.db import fastpath
from billfold.engine import Engine


def _text_differs(word: str) -> Any:
    return select(literal_column(f"'{word}'").label("w"))  # the SQL text itself differs


def _value_differs(word: str) -> Any:
    return select(literal(word, String).label("w"))  # same SQL, the value is a bound constant


@pytest.mark.parametrize("build", [_text_differs, _value_differs])
def test_a_statement_built_per_call_runs_its_own_sql_even_at_a_reused_address(
    engine: Engine, build: Callable[[str], Any]
) -> None:
    seen: set[int] = set()
    reused = 0
    with engine.uow() as uow:
        for n in range(200):
            word = f"w{n}"
            statement = build(word)
            reused += id(statement) in seen
            seen.add(id(statement))
            rows = fastpath.run_read(uow.conn, statement, {})
            assert [row.w for row in rows] == [word], f"statement {n} ran another's SQL"
            del statement, rows
    assert reused > 0, "no address was reused: the test did not exercise the hazard"


def test_a_freed_statement_leaves_nothing_in_the_cache(engine: Engine) -> None:
    gc.collect()
    before = fastpath.cached_statements()
    with engine.uow() as uow:
        for n in range(50):
            fastpath.run_read(uow.conn, _text_differs(f"x{n}"), {})
    gc.collect()
    assert fastpath.cached_statements() == before
