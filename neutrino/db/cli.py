"""``neutrino db upgrade``: bring the schema to the latest revision (idempotent)."""
from __future__ import annotations

import argparse

from neutrino.config import Settings
from neutrino.db import migrate
from neutrino.db.session import Database


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["upgrade", "current"])
    parser.add_argument("--database-url", help="overrides NEUTRINO_DATABASE_URL")


def run(args: argparse.Namespace) -> int:
    settings = Settings.load(database_url=args.database_url)
    db = Database(settings.database_url)
    try:
        if args.action == "upgrade":
            migrate.upgrade(db)
        print(migrate.current_revision(db))
    finally:
        db.dispose()
    return 0
