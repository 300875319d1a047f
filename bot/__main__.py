"""`python -m bot run [--debug] | chat | train [--force] | purge --older-than 180d [--dry-run] |
migrate-conversation-ids [--dry-run]`: the assistant's entry points (called by the Makefile; `purge` is the retention
job, bot/retention.py, for cron; `migrate-conversation-ids` the one-shot id migration, bot/conversation_migration.py)."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from bot.settings import Settings, use


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="宁夏农民工政策助手")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="train if stale, then run every process of the assistant")
    run.add_argument("--debug", action="store_true", help="DEBUG logs in every process (LOG_LEVEL=DEBUG; still masked)")
    commands.add_parser("chat", help="chat with the assistant in this terminal")
    train = commands.add_parser("train", help="train the model if the training inputs changed")
    train.add_argument("--force", action="store_true", help="train even if the model is up to date")
    purge = commands.add_parser("purge", help="retention: remove old conversations and closed cases' personal data")
    purge.add_argument("--older-than", required=True, metavar="AGE", help="e.g. 180d (days), 26w (weeks), 12h (hours)")
    purge.add_argument("--dry-run", action="store_true", help="count what would be removed; change nothing")
    ids = commands.add_parser(
        "migrate-conversation-ids", help="one-shot: scope stored conversation ids by channel (sms:…, wechat:…, rest:…)"
    )
    ids.add_argument("--tracker-url", help="the tracker store's SQLAlchemy URL (default: sqlite of TRACKER_DB)")
    ids.add_argument("--events-url", help="the SQL event broker's URL (default: EVENTS_DB_URL)")
    ids.add_argument("--dry-run", action="store_true", help="only report what would change")
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    if getattr(args, "debug", False):  # every child process reads LOG_LEVEL (Rasa itself, bot.action_server)
        settings = dataclasses.replace(settings, env={**settings.env, "LOG_LEVEL": "DEBUG"})
    use(settings)
    if args.command == "migrate-conversation-ids":
        from bot.conversation_migration import run as migrate_ids

        reports = migrate_ids(settings, tracker_url=args.tracker_url, events_url=args.events_url, dry_run=args.dry_run)
        for report in reports:
            print("\n".join(report.lines()))
        return 0
    if args.command == "purge":
        from bot.retention import parse_age
        from bot.retention import purge as run_purge

        try:
            age = parse_age(args.older_than)
        except ValueError as error:
            parser.error(str(error))
        print("\n".join(run_purge(settings, age, dry_run=args.dry_run).lines()), flush=True)
        return 0
    if args.command == "train":
        from bot.train import ensure_model

        ensure_model(settings, force=args.force)
        return 0
    from bot import launcher

    return launcher.run(settings) if args.command == "run" else launcher.chat(settings)


if __name__ == "__main__":
    sys.exit(main())
