"""``python -m treestore``: ingest PageIndex files, get a document, search,
check health -- from a shell.

    python -m treestore [--dsn DSN] ingest PATH... [--version-id V1]
                        [--effective-from DATE] [--replace] [--policy-id ID]
    python -m treestore [--dsn DSN] get POLICY_ID [--version-id V] [--as-of DATE]
                        [--include-text]
    python -m treestore [--dsn DSN] search QUERY [--policy-id P] [--version-id V]
                        [--as-of DATE] [--top-k K] [--json]
    python -m treestore [--dsn DSN] health

Without --dsn the standard PG* environment variables (PGHOST, PGPORT,
PGDATABASE, PGUSER, ...) say where to connect, as for psql.  ``ingest``
takes files and directories (every *.json in them, by name); each file is
one policy version stored in its own transaction, its policy id the file
name without ".json" and a "_structure" suffix (or --policy-id, for a
single file).  Output is JSON for get and health, one line per hit for
search.  Exit status: 0 success, 1 an error (printed with its SQLSTATE), 2
bad arguments.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import psycopg

from . import __version__
from .client import TreeStoreClient
from .errors import TreeStoreError, from_psycopg

CONNECT_TIMEOUT = 10.0
"""Seconds the command line waits for a connection before it gives up."""


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m treestore",
                                 description="treestore_fdw from the command line.")
    ap.add_argument("--version", action="version", version=f"treestore {__version__}")
    ap.add_argument("--dsn", default=None,
                    help="libpq connection string or URI (default: the PG* environment)")
    sub = ap.add_subparsers(dest="command", required=True)

    ing = sub.add_parser("ingest", help="store PageIndex JSON files")
    ing.add_argument("paths", nargs="+", type=Path, help="files or directories of *.json")
    ing.add_argument("--version-id", default="v1", help="version id of every file (default v1)")
    ing.add_argument("--effective-from", type=_date, help="the versions' effective_from")
    ing.add_argument("--replace", action="store_true", help="replace versions that exist")
    ing.add_argument("--policy-id", help="policy id (a single file only)")

    get = sub.add_parser("get", help="print a document as a PageIndex tree (JSON)")
    get.add_argument("policy_id")
    get.add_argument("--version-id")
    get.add_argument("--as-of", type=_date)
    get.add_argument("--include-text", action="store_true")

    sea = sub.add_parser("search", help="search nodes (BM25)")
    sea.add_argument("query")
    sea.add_argument("--policy-id")
    sea.add_argument("--version-id")
    sea.add_argument("--as-of", type=_date)
    sea.add_argument("--top-k", type=int, default=10)
    sea.add_argument("--json", action="store_true", help="print the hits as JSON")

    sub.add_parser("health", help="print treestore.health() (JSON); exit 1 unless ok")
    return ap


def _files(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(p.glob("*.json")))
        elif p.is_file():
            files.append(p)
        else:
            raise TreeStoreError(f"no such file or directory: {p}")
    return files


def _policy_id(path: Path) -> str:
    stem = path.name[:-len(".json")] if path.name.endswith(".json") else path.name
    return stem[:-len("_structure")] if stem.endswith("_structure") else stem


def _ingest(ts: TreeStoreClient, args: argparse.Namespace) -> int:
    files = _files(args.paths)
    if args.policy_id and len(files) != 1:
        raise TreeStoreError(f"--policy-id names one policy, but {len(files)} files were given")
    total = 0
    for f in files:
        try:
            tree = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise TreeStoreError(f"cannot read {f}: {exc}") from exc
        policy = args.policy_id or _policy_id(f)
        try:
            n = ts.store_document(policy, args.version_id, tree,
                                  effective_from=args.effective_from, replace=args.replace)
        except TreeStoreError as exc:
            exc.message = f"{f}: {exc.message}"
            raise
        total += n
        print(f"{policy} {args.version_id}: {n} nodes ({f.name})")
    print(f"{len(files)} documents, {total} nodes")
    return 0


def _search(ts: TreeStoreClient, args: argparse.Namespace) -> int:
    hits = ts.search_nodes(args.query, policy_id=args.policy_id, version_id=args.version_id,
                           as_of=args.as_of, top_k=args.top_k)
    if args.json:
        print(json.dumps([dataclasses.asdict(h) for h in hits], indent=2, ensure_ascii=False))
    else:
        for h in hits:
            print(f"{h.score:8.3f}  {h.policy_id} {h.version_id} {h.node_id}  {h.section_path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # psycopg_pool logs every failed connection attempt; the error says it once
    logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)
    try:
        # Connect once first: a server that refuses says why at once, where
        # the pool would keep trying for CONNECT_TIMEOUT seconds.
        try:
            psycopg.connect(args.dsn or "", connect_timeout=int(CONNECT_TIMEOUT)).close()
        except psycopg.Error as exc:
            raise from_psycopg(exc) from exc
        with TreeStoreClient(args.dsn, min_size=0, max_size=1, timeout=CONNECT_TIMEOUT,
                             retries=1) as ts:
            if args.command == "ingest":
                return _ingest(ts, args)
            if args.command == "get":
                doc = ts.get_document(args.policy_id, version_id=args.version_id,
                                      as_of=args.as_of, include_text=args.include_text)
                print(json.dumps(doc, indent=2, ensure_ascii=False))
                return 0
            if args.command == "search":
                return _search(ts, args)
            health = ts.health()
            print(json.dumps(health, indent=2))
            return 0 if health.get("status") == "ok" else 1
    except TreeStoreError as exc:
        print(f"treestore: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    raise AssertionError(f"unhandled command {args.command}")
