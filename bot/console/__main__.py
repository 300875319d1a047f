"""`python -m bot.console serve | create-operator NAME | disable-operator NAME | enable-operator NAME |
reset-password NAME`: run the console, or manage operator accounts (disabling an account or resetting its password
ends its sessions at once)."""

from __future__ import annotations

import argparse
import getpass
import logging
import sys

from bot import privacy
from bot.console._accounts import Accounts, LoginThrottle, NoSuchOperator, OperatorExists
from bot.console._security import PasswordPolicyError
from bot.settings import Settings, use
from bot.store import app_store, migrate
from bot.store.types import utcnow


def _read_password(username: str) -> str:
    """The password from the terminal (asked twice), or from the first line of stdin when it is not a terminal."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"操作员 {username} 的密码：")
    if getpass.getpass("再输一遍：") != first:
        raise ValueError("两次输入的密码不一样")
    return first


def create_operator(settings: Settings, username: str, password: str | None = None) -> int:
    migrate(settings.app_db_url)
    try:
        password = _read_password(username) if password is None else password
        Accounts(app_store(settings)).create_operator(username, password, utcnow())
    except (PasswordPolicyError, OperatorExists, ValueError) as error:
        print(f"没有创建：{error}", file=sys.stderr)
        return 1
    print(f"已创建操作员 {username.strip()}")
    return 0


def disable_operator(settings: Settings, username: str, *, enable: bool = False) -> int:
    migrate(settings.app_db_url)
    try:
        ended = Accounts(app_store(settings)).set_disabled(username, not enable)
    except NoSuchOperator as error:
        print(f"没有改：{error}", file=sys.stderr)
        return 1
    if enable:
        print(f"已启用操作员 {username.strip()}")
    else:
        print(f"已停用操作员 {username.strip()}，结束了 {ended} 个登录会话")
    return 0


def reset_password(settings: Settings, username: str, password: str | None = None) -> int:
    migrate(settings.app_db_url)
    store = app_store(settings)
    try:
        password = _read_password(username) if password is None else password
        ended = Accounts(store).reset_password(username, password)
    except (PasswordPolicyError, NoSuchOperator, ValueError) as error:
        print(f"没有改：{error}", file=sys.stderr)
        return 1
    LoginThrottle(store).clear(username)  # the operator may log in with the new password right away
    print(f"已重设操作员 {username.strip()} 的密码，结束了 {ended} 个登录会话")
    return 0


def ensure_development_operator(settings: Settings) -> None:
    """In development: create the operator of CONSOLE_ADMIN_USER / CONSOLE_ADMIN_PASSWORD if both are set and it does
    not exist yet; without them and without any operator, say how to create one. There is no default password."""
    accounts = Accounts(app_store(settings))
    if settings.console_admin is not None:
        username, password = settings.console_admin
        if accounts.operator_exists(username):
            return
        try:
            accounts.create_operator(username, password, utcnow())
            print(f"[console] created operator {username} from CONSOLE_ADMIN_USER / CONSOLE_ADMIN_PASSWORD", flush=True)
        except (PasswordPolicyError, OperatorExists) as error:
            print(f"[console] CONSOLE_ADMIN_USER not created: {error}", flush=True)
        return
    if not accounts.has_operators():
        print(
            "[console] no operator yet: create one with `.venv/bin/python -m bot.console create-operator NAME` "
            "(or set CONSOLE_ADMIN_USER and CONSOLE_ADMIN_PASSWORD in development)",
            flush=True,
        )


def serve(settings: Settings) -> int:
    from aiohttp import web

    from bot.console.app import create_app  # the knowledge base and the web stack: only to serve

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    privacy.install()  # phone, ID and bank card numbers are masked in every log line
    migrate(settings.app_db_url)
    ensure_development_operator(settings)
    app = create_app(settings)
    print(f"[console] 12333 operator console on {settings.console_url}/", flush=True)
    if settings.production and settings.host not in ("127.0.0.1", "::1", "localhost"):
        print(
            f"[console] WARNING: serving plain HTTP on {settings.host}; production cookies are Secure, so operators "
            "must reach the console through the TLS proxy only (firewall this port to it, set "
            "CONSOLE_TRUSTED_PROXIES to its address; see the README's security section)",
            flush=True,
        )
    web.run_app(app, host=settings.host, port=settings.console_port, print=None, access_log=None)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.console", description="12333 操作员控制台")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the console on CONSOLE_PORT (default 8080)")
    create = commands.add_parser("create-operator", help="add an operator (asks for the password)")
    create.add_argument("name", help="the operator's login name")
    disable = commands.add_parser("disable-operator", help="disable an operator and end their sessions at once")
    disable.add_argument("name")
    enable = commands.add_parser("enable-operator", help="let a disabled operator log in again")
    enable.add_argument("name")
    reset = commands.add_parser("reset-password", help="set a new password (asked, or stdin) and end all sessions")
    reset.add_argument("name")
    args = parser.parse_args(argv)
    settings = use(Settings.from_env())
    if args.command == "create-operator":
        return create_operator(settings, args.name)
    if args.command in ("disable-operator", "enable-operator"):
        return disable_operator(settings, args.name, enable=args.command == "enable-operator")
    if args.command == "reset-password":
        return reset_password(settings, args.name)
    return serve(settings)


if __name__ == "__main__":
    sys.exit(main())
