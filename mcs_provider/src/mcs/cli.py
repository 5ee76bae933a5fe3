"""The ``mcs`` command: ``mcs db upgrade``, ``mcs gateway`` and friends."""

from __future__ import annotations

import argparse
import logging
import sys


def _db_upgrade(args: argparse.Namespace) -> int:
    from mcs.db.migrate import upgrade
    from mcs.errors import McsError

    try:
        upgrade()
    except McsError as exc:
        print(f"mcs db upgrade: {exc}", file=sys.stderr)
        return 1
    return 0


def _gateway(args: argparse.Namespace) -> int:
    from mcs.gateway.main import run

    return run()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcs", description="MCS command line")
    commands = parser.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="the `mcs` database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="create the database if missing and apply migrations").set_defaults(
        func=_db_upgrade
    )

    commands.add_parser("gateway", help="run the MQTT gateway (device message journal)").set_defaults(
        func=_gateway
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
