"""The floor: the benchmark's work written directly against sqlite3.

No framework beats this: the csv module and one executemany for the
loader; one SELECT of the needed columns, a plain function per row and one
executemany UPDATE for a step; an anti-join SELECT, the lines written and
one executemany INSERT for the alert. Same schema, same pragmas (WAL,
synchronous NORMAL) and the same per-row functions as the pipeline.
"""

import csv
import datetime as dt
import sqlite3
import time

from benchpl.work import kind_of, magnitude

SCHEMA = """
CREATE TABLE "Source" (
    id INTEGER PRIMARY KEY, ra FLOAT NOT NULL, dec FLOAT NOT NULL,
    flux FLOAT NOT NULL, flux_err FLOAT NOT NULL, mag FLOAT, snr FLOAT,
    kind INTEGER, heavy_a FLOAT, heavy_b FLOAT);
CREATE TABLE __corral_alerted__ (
    id INTEGER PRIMARY KEY, alert_path VARCHAR(255) NOT NULL,
    model_table VARCHAR(255) NOT NULL, model_ids VARCHAR(255) NOT NULL,
    created_at DATETIME NOT NULL,
    UNIQUE (alert_path, model_table, model_ids));
"""

ALERT = "benchpl.alerts.Bright"


def connect(path):
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def create(path):
    conn = connect(path)
    conn.executescript(SCHEMA)
    conn.close()


def load(path, catalogue):
    conn = connect(path)
    started = time.perf_counter()
    with open(catalogue, newline="", encoding="utf-8") as fp:
        reader = csv.reader(fp)
        next(reader)
        rows = [(float(a), float(b), float(c), float(d))
                for a, b, c, d in reader]
    conn.executemany('INSERT INTO "Source" (ra, dec, flux, flux_err) '
                     "VALUES (?, ?, ?, ?)", rows)
    conn.commit()
    seconds = time.perf_counter() - started
    conn.close()
    return seconds, len(rows)


def step_magnitude(path):
    conn = connect(path)
    started = time.perf_counter()
    rows = conn.execute(
        'SELECT id, flux, flux_err FROM "Source" WHERE mag IS NULL'
    ).fetchall()
    updates = [(*magnitude(flux, err), id_) for id_, flux, err in rows]
    conn.executemany('UPDATE "Source" SET mag = ?, snr = ? WHERE id = ?',
                     updates)
    conn.commit()
    seconds = time.perf_counter() - started
    conn.close()
    return seconds, len(rows)


def step_classify(path):
    conn = connect(path)
    started = time.perf_counter()
    rows = conn.execute(
        'SELECT id, mag, snr FROM "Source" WHERE mag IS NOT NULL '
        "AND kind IS NULL"
    ).fetchall()
    updates = [(kind_of(mag, snr), id_) for id_, mag, snr in rows]
    conn.executemany('UPDATE "Source" SET kind = ? WHERE id = ?', updates)
    conn.commit()
    seconds = time.perf_counter() - started
    conn.close()
    return seconds, len(rows)


def pre_alert_half(path):
    """Record every other candidate as alerted already (both databases)."""
    conn = connect(path)
    now = dt.datetime.now().isoformat(" ")
    conn.execute(
        "INSERT INTO __corral_alerted__ (alert_path, model_table, "
        "model_ids, created_at) SELECT ?, 'Source', CAST(id AS TEXT), ? "
        'FROM "Source" WHERE kind = 2 AND id % 2 = 0', (ALERT, now))
    conn.commit()
    conn.close()


def alert(path, out_path):
    conn = connect(path)
    started = time.perf_counter()
    rows = conn.execute(
        'SELECT s.id, s.ra, s.dec, s.mag FROM "Source" s WHERE s.kind = 2 '
        "AND NOT EXISTS (SELECT 1 FROM __corral_alerted__ a WHERE "
        "a.alert_path = ? AND a.model_table = 'Source' AND "
        "a.model_ids = CAST(s.id AS TEXT))", (ALERT,)
    ).fetchall()
    now = dt.datetime.now().isoformat(" ")
    with open(out_path, "a", encoding="utf-8") as fp:
        for id_, ra, dec, mag in rows:
            fp.write(f"{id_} {ra:.6f} {dec:.6f} {mag:.3f}\n")
    conn.executemany(
        "INSERT INTO __corral_alerted__ (alert_path, model_table, "
        "model_ids, created_at) VALUES (?, 'Source', ?, ?)",
        [(ALERT, str(r[0]), now) for r in rows])
    conn.commit()
    seconds = time.perf_counter() - started
    conn.close()
    return seconds, len(rows)
