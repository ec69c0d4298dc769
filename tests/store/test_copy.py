"""Columns written by binary COPY read back exactly as PostgreSQL reads the same rows inserted one
by one (NULLs, NaN as NULL, texts with tabs, quotes, backslashes and CJK, empty strings, booleans)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import psycopg

from gis.store.copy import binary_rows

COLUMNS = {"i": "bigint", "n": "integer", "x": "float8", "b": "boolean", "t": "text", "u": "text"}


def test_binary_copy_reads_back_as_plain_inserts(db_url: str) -> None:
    rng = np.random.default_rng(7)
    n = 500
    frame = pd.DataFrame(
        {
            "i": pd.array(rng.integers(-(2**40), 2**40, n), dtype="Int64"),
            "n": rng.integers(-1000, 1000, n).astype("int32"),
            "x": rng.normal(size=n),
            "b": rng.random(n) > 0.5,
            "t": rng.choice(["静淑苑", "a\tb", "quote ' \" \\ end", "", "x"], n),
            "u": rng.choice(["no road within 300 m", "facility inside the compound"], n),
        }
    )
    frame.loc[rng.random(n) < 0.2, "i"] = pd.NA
    frame.loc[rng.random(n) < 0.2, "x"] = np.nan
    frame["t"] = frame["t"].where(rng.random(n) > 0.1, None)
    frame["key"] = np.arange(n)
    columns = {**COLUMNS, "key": "bigint"}
    ddl = ", ".join(f"{c} {t}" for c, t in columns.items())
    with psycopg.connect(db_url) as conn:
        conn.execute(f"CREATE TEMP TABLE by_copy ({ddl})")
        conn.execute(f"CREATE TEMP TABLE by_insert ({ddl})")
        with conn.cursor().copy(f"COPY by_copy ({', '.join(columns)}) FROM STDIN (FORMAT binary)") as copy:
            copy.write(binary_rows([(frame[c], t) for c, t in columns.items()]))
        rows = frame.astype(object).where(frame.notna(), None).itertuples(index=False)
        placeholders = ", ".join(["%s"] * len(columns))
        conn.cursor().executemany(f"INSERT INTO by_insert ({', '.join(columns)}) VALUES ({placeholders})", list(rows))
        mine = conn.execute("SELECT * FROM by_copy ORDER BY key").fetchall()
        theirs = conn.execute("SELECT * FROM by_insert ORDER BY key").fetchall()
    assert len(mine) == n and mine == theirs
    assert sum(r[0] is None for r in mine) > 50 and sum(r[2] is None for r in mine) > 50  # NULLs came through
