"""Shared by the examples: where to connect and where the sample files are."""

from __future__ import annotations

import argparse
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[2] / "test" / "data" / "pageindex"


def arguments(description: str) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--dsn", default=None,
                    help="libpq connection string (default: the PG* environment variables)")
    ap.add_argument("--samples", type=Path, default=SAMPLES,
                    help="directory of PageIndex JSON files (default: test/data/pageindex)")
    return ap.parse_args()
