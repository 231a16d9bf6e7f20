"""Time and memory to build the weekly digest: one school, and a trust of 50 schools.

    python bench/digest.py                      # both scenarios, each in a fresh process
    python bench/digest.py --example docs/examples   # rebuild the committed example digest

Each scenario loads a generated week (bench/sample_week.py) into a SQLite file, then runs
the Monday job (every school's digest, plus the trust's roll-up, built, stored and queued)
and prints wall time and peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sample_week  # bench/ is on the path when this script runs

from monitor.config.loading import load_demo_config, parse_config
from monitor.config.schema import OrmConfig
from monitor.digest.delivery import DigestJob, build
from monitor.digest.week import Week
from monitor.storage.engine import Database

WEEK = Week(2026, 47)
MONDAY_SEVEN = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
SCENARIOS = {"one school": (1, 200), "trust of 50 schools": (50, 200)}


def peak_rss_mib() -> float:
    """The process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def trust_config(schools: int, state: Path) -> OrmConfig:
    """`schools` schools of three sources each, all emailing a maildir; a trust if more than one."""
    people = [
        {
            "id": "am",
            "name": "Account Manager",
            "email": "am@school.example",
            "roles": ["account_manager"],
        },
        {"id": "head", "name": "Headteacher", "email": "head@school.example", "roles": ["slt"]},
    ]
    channels = {"mail": {"type": "maildir", "path": str(state / "mail")}}
    raw: dict[str, Any] = {
        "schema_version": 1,
        "service": {"database_url": f"sqlite:///{state / 'bench.db'}", "state_dir": str(state)},
        "classifier": {"profile": "rules"},
        "schools": [
            {
                "id": f"school-{n:02d}",
                "name": f"School {n:02d}",
                "people": people,
                "channels": channels,
                "email_channel": "mail",
                "sources": [
                    {"id": f"s{n:02d}-{kind}", "type": "rss", "url": f"file:///{kind}.xml"}
                    for kind in ("facebook", "alerts", "x")
                ],
            }
            for n in range(1, schools + 1)
        ],
    }
    if schools > 1:
        raw["trust"] = {
            "name": "Bench Learning Trust",
            "people": people[1:],
            "channels": channels,
            "email_channel": "mail",
        }
    return parse_config(raw, "bench config")


def scenario(name: str) -> dict[str, Any]:
    """Load one scenario's week, run the Monday job, and measure it (in this process)."""
    schools, per_school = SCENARIOS[name]
    with tempfile.TemporaryDirectory() as tmp:
        config = trust_config(schools, Path(tmp))
        db = Database(config.service.database_url)
        db.upgrade()
        started = time.perf_counter()
        items = sample_week.populate(db, config, WEEK, per_school)
        loaded, before = time.perf_counter() - started, peak_rss_mib()
        started = time.perf_counter()
        queued = DigestJob(db, config, clock=lambda: MONDAY_SEVEN).run()
        monday = time.perf_counter() - started
        result = {
            "scenario": name,
            "schools": schools,
            "items_in_week": schools * per_school,
            "items_stored": items,
            "load_s": round(loaded, 2),
            "digests_built": queued,
            "monday_job_s": round(monday, 2),
            "per_digest_s": round(monday / queued, 3),
            "rss_before_mib": round(before, 1),
            "rss_peak_mib": round(peak_rss_mib(), 1),
        }
        if config.trust is not None:
            started = time.perf_counter()
            with db.session() as session:
                document = build(session, config, config.trust.id, WEEK, MONDAY_SEVEN)
            result["trust_rollup_s"] = round(time.perf_counter() - started, 2)
            result["trust_rollup_pdf_kib"] = round(len(document.pdf) / 1024)
            parts = len(document.html) + len(document.pdf)
            parts += sum(len(c.png) for c in document.email_charts)
            result["trust_email_base64_kib"] = round(parts * 4 / 3 / 1024)
        db.dispose()
    return result


def example(directory: Path) -> None:
    """Build the example digest from the demo school's config and a generated week."""
    with tempfile.TemporaryDirectory() as tmp:
        config = load_demo_config(Path(tmp))
        db = Database(config.service.database_url)
        db.upgrade()
        sample_week.populate(db, config, WEEK, 150, seed=2026)
        with db.session() as session:
            document = build(session, config, "st-marys", WEEK, MONDAY_SEVEN)
        db.dispose()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "weekly-digest.html").write_text(document.page, encoding="utf-8")
    (directory / "weekly-digest.pdf").write_bytes(document.pdf)
    print(f"wrote {directory}/weekly-digest.html and weekly-digest.pdf")


def main() -> None:
    """Run each scenario in a fresh interpreter so that peak memory is its own."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", choices=SCENARIOS, help=argparse.SUPPRESS)
    parser.add_argument("--example", type=Path, help="write the example digest to DIR")
    args = parser.parse_args()
    if args.example:
        example(args.example)
        return
    if args.scenario:
        print(json.dumps(scenario(args.scenario)))
        return
    for name in SCENARIOS:
        out = (
            subprocess.run(
                [sys.executable, __file__, "--scenario", name],
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        result = json.loads(out)
        print(f"{name}: {result}")


if __name__ == "__main__":
    main()
