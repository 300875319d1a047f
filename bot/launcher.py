"""Run the assistant's processes as one supervised group.

`python -m bot run` (what `make run` calls) trains the model if it is stale, migrates the app store, then starts the
action server, the Rasa server (with its channels), the operator console and the notifier (case notifications). Each process's output
is printed line by line behind its name; a process that exits on its own is reported and restarted (with a growing
pause, and the whole group stops if one keeps crashing); Ctrl-C or SIGTERM stops every process, politely first.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bot.settings import DEVELOPMENT_CHANNEL_ENV, Settings
from bot.store import migrate
from bot.train import ensure_model

STOP_GRACE_SECONDS = 10
MAX_RESTARTS_PER_MINUTE = 5


@dataclass
class ProcessSpec:
    """One supervised process: its name (the log prefix), command line and the URL that answers once it is up."""

    name: str
    argv: list[str]
    ready_url: str | None  # None: a process without a port (the notifier), announced as started
    env: dict[str, str] = field(default_factory=dict)


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def process_specs(settings: Settings, model: Path) -> list[ProcessSpec]:
    """The processes of the assistant, in start order, each with only the environment it needs
    (`Settings.process_environment`). No secret is on a command line: Rasa's API token reaches bot.rasa_server
    through its environment."""
    auth = {"RASA_AUTH_TOKEN": settings.rasa_auth_token(), "ACTION_SERVER_TOKEN": settings.action_server_token()}

    def env(process: str) -> dict[str, str]:
        return settings.process_environment(process) | {
            name: value for name, value in auth.items() if settings.process_may_see(process, name)
        }

    return [
        ProcessSpec(
            "actions",
            [
                sys.executable,
                "-m",
                "bot.action_server",
                "run",
                "actions",
                "--actions",
                "actions",
                "--port",
                str(settings.action_port),
            ],
            f"http://{settings.host}:{settings.action_port}/health",
            env("actions"),
        ),
        ProcessSpec(
            "rasa",
            [
                sys.executable,
                "-m",
                "bot.rasa_server",
                "run",
                "--model",
                str(model),
                "--endpoints",
                str(settings.endpoints),
                "--credentials",
                "credentials.yml",
                "--interface",
                settings.host,
                "--port",
                str(settings.rasa_port),
                "--enable-api",  # guarded by RASA_AUTH_TOKEN, which bot.rasa_server passes to Rasa in-process
            ],
            f"{settings.rasa_url}/webhooks/rest/",
            env("rasa"),
        ),
        ProcessSpec(
            "console", [sys.executable, "-m", "bot.console", "serve"], f"{settings.console_url}/healthz", env("console")
        ),
        # Case notifications from the outbox (bot.notifier): outbound WeChat and SMS credentials, no inbound secret.
        ProcessSpec("notifier", [sys.executable, "-m", "bot.notifier"], None, env("notifier")),
    ]


def _is_up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status < 500
    except OSError:
        return False


class Supervisor:
    """Starts, watches, restarts and stops a group of processes."""

    def __init__(self, specs: list[ProcessSpec], cwd: Path) -> None:
        self.specs = specs
        self.cwd = cwd
        self.processes: dict[str, asyncio.subprocess.Process] = {}
        self.stopping = asyncio.Event()
        self.failed: str | None = None

    def log(self, message: str) -> None:
        print(f"[launcher] {message}", flush=True)

    async def _pump(self, name: str, stream: asyncio.StreamReader) -> None:
        width = max(len(spec.name) for spec in self.specs)
        while line := await stream.readline():
            print(f"[{name:<{width}}] {line.decode(errors='replace').rstrip()}", flush=True)

    async def _start(self, spec: ProcessSpec) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            *spec.argv,
            cwd=self.cwd,
            env=spec.env or None,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # our own signal handling decides when children stop
        )
        self.processes[spec.name] = process
        assert process.stdout is not None  # stdout=PIPE
        asyncio.ensure_future(self._pump(spec.name, process.stdout))
        return process

    async def _watch(self, spec: ProcessSpec) -> None:
        crashes: list[float] = []
        while not self.stopping.is_set():
            process = await self._start(spec)
            announcer = asyncio.ensure_future(self._announce_when_ready(spec, process))
            code = await process.wait()
            announcer.cancel()
            if self.stopping.is_set():
                return
            now = time.monotonic()
            crashes = [t for t in crashes if now - t < 60] + [now]
            if len(crashes) > MAX_RESTARTS_PER_MINUTE:
                self.log(f"{spec.name} exited with code {code} {len(crashes)} times within a minute; stopping all")
                self.failed = spec.name
                self.stopping.set()
                return
            pause = 2 ** (len(crashes) - 1)
            self.log(f"{spec.name} exited with code {code}; restarting in {pause} s")
            await asyncio.sleep(pause)

    async def _announce_when_ready(self, spec: ProcessSpec, process: asyncio.subprocess.Process) -> None:
        if spec.ready_url is None:
            self.log(f"{spec.name} started (pid {process.pid}, no port)")
            return
        while process.returncode is None and not self.stopping.is_set():
            if await asyncio.to_thread(_is_up, spec.ready_url):
                self.log(f"{spec.name} is up: {spec.ready_url}")
                return
            await asyncio.sleep(1)

    async def _terminate_all(self) -> None:
        for process in self.processes.values():
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for name, process in self.processes.items():
            try:
                await asyncio.wait_for(process.wait(), max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                self.log(f"{name} did not stop in {STOP_GRACE_SECONDS} s; killing it")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
            self.log(f"{name} stopped")

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.stopping.set)
        watchers = [asyncio.ensure_future(self._watch(spec)) for spec in self.specs]
        await self.stopping.wait()
        self.log("stopping all processes")
        await self._terminate_all()
        for watcher in watchers:
            watcher.cancel()
        return 1 if self.failed else 0


def refuse_insecure(settings: Settings) -> int:
    """0 when `settings` may start; else print what to set and return 2. Development stand-ins (public values) are
    only for a loopback host in development, and each one in use gets a warning."""
    if missing := settings.missing_secrets():
        where = "NXA_ENV=production" if settings.production else f"NXA_HOST={settings.host} is beyond loopback"
        print(
            f"[launcher] refusing to start: {where}, so these must be set to real secrets: {', '.join(missing)} "
            "(development stand-ins serve only NXA_HOST=127.0.0.1 outside production)",
            file=sys.stderr,
            flush=True,
        )
        return 2
    for name in settings.stand_ins_used():
        print(
            f"[launcher] WARNING: {name} is not set; using the public development stand-in "
            f"{DEVELOPMENT_CHANNEL_ENV[name]!r}, which anyone can know (acceptable only for development on this "
            "machine; set it for real use)",
            file=sys.stderr,
            flush=True,
        )
    return 0


def run(settings: Settings) -> int:
    """Refuse an insecure configuration, train if needed, migrate the app store, and supervise every process until
    stopped."""
    try:
        if code := refuse_insecure(settings):
            return code
        settings.ensure_var_dir()
        settings.action_server_token()  # generated now (loopback) before the children race for it
    except ValueError as error:
        print(f"[launcher] {error}", file=sys.stderr, flush=True)
        return 2
    if unset := settings.unset_endpoint_variables():  # scaling out: say so now rather than crash-loop Rasa
        print(
            f"[launcher] {settings.endpoints.name} needs these environment variables: {', '.join(unset)}",
            file=sys.stderr,
            flush=True,
        )
        return 2
    model = ensure_model(settings)
    migrate(settings.app_db_url)
    specs = process_specs(settings, model)
    print(
        "\n".join(
            [
                "[launcher] starting the assistant:",
                f"[launcher]   REST channel    POST {settings.rasa_url}/webhooks/rest/webhook",
                f"[launcher]   WeChat channel  {settings.rasa_url}/webhooks/wechat/webhook",
                f"[launcher]   SMS channel     POST {settings.rasa_url}/webhooks/sms/webhook",
                f"[launcher]   action server   {settings.action_url}",
                f"[launcher]   console         {settings.console_url}/",
                "[launcher]   notifier        case notifications from the app store's outbox",
                f"[launcher]   data            {settings.var_dir}",
            ]
        ),
        flush=True,
    )
    return asyncio.run(Supervisor(specs, settings.root).run())


def chat(settings: Settings) -> int:
    """A terminal chat with the assistant (rasa shell) with the action server running beside it."""
    settings.ensure_var_dir()
    model = ensure_model(settings)
    migrate(settings.app_db_url)
    actions_spec = process_specs(settings, model)[0]
    actions = subprocess.Popen(
        actions_spec.argv, cwd=settings.root, env=actions_spec.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(120):
            if actions_spec.ready_url and _is_up(actions_spec.ready_url):
                break
            time.sleep(0.5)
        return subprocess.call(
            [
                _bin("rasa"),
                "shell",
                "--model",
                str(model),
                "--endpoints",
                str(settings.endpoints),
                "--port",
                str(settings.rasa_port),
            ],
            cwd=settings.root,
            env=process_specs(settings, model)[1].env,
        )
    finally:
        actions.terminate()
        actions.wait(timeout=STOP_GRACE_SECONDS)
