"""`python -m bot run | chat | train [--force]`: the assistant's entry points (called by the Makefile)."""

from __future__ import annotations

import argparse
import sys

from bot.settings import Settings, use


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="宁夏农民工政策助手")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="train if stale, then run every process of the assistant")
    commands.add_parser("chat", help="chat with the assistant in this terminal")
    train = commands.add_parser("train", help="train the model if the training inputs changed")
    train.add_argument("--force", action="store_true", help="train even if the model is up to date")
    args = parser.parse_args(argv)

    settings = use(Settings.from_env())
    if args.command == "train":
        from bot.train import ensure_model

        ensure_model(settings, force=args.force)
        return 0
    from bot import launcher

    return launcher.run(settings) if args.command == "run" else launcher.chat(settings)


if __name__ == "__main__":
    sys.exit(main())
