"""`make bench`: the assistant measured the way its operators would judge it; writes bench/results/latest.{json,md}.

    .venv/bin/python bench/run.py [--quick] [--skip-bare] [--skip-train] [--out DIR]

Parts, each bounded in time, run one after the other so they do not compete for the cores:

1. understanding: the other benchmarks of bench/ (nlu.py, dialogue.py, kb_search.py, console.py), each in a subprocess with a
   timeout, its own JSON results (bench/results/<name>.json) copied into the report; "not available" when absent;
   dialogue.py runs the held-out conversations (bench/conversations/, results in conversations.json) and the held-out
   single questions (dialogue.json) on one running assistant;
2. our assistant, started by the real launcher (tests/support/assistant.py) in a temporary var/ folder: start-up time
   to a served webhook, latency and throughput over REST at 1 and at 20 concurrent users, the WeChat path at 20
   users (signed pushes, a local fake WeChat API for customer-service replies), resident memory of every process;
3. the bare `rasa init` bot (bench/reference_bot) measured the same way in the same run, and the ratio of our p95 at
   20 users to its p95 (target: at most 1.5);
4. cost: a forced training of our model into a temporary folder (time, model size).

It prints its figures and the machine's core count, and exits 0 whatever the timings: it measures, it does not gate
(it exits 1 only when our assistant cannot be started at all).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import cost, latency, reference_bot, wechat_path  # noqa: E402
from tests.reliability.support import start_patiently  # noqa: E402
from tests.support.assistant import Assistant, free_port  # noqa: E402

RESULTS = REPO / "bench" / "results"
# name → (the script's arguments, the results it writes as bench/results/<result>.json, timeout in seconds)
UNDERSTANDING: dict[str, tuple[list[str], tuple[str, ...], int]] = {
    "nlu": ([], ("nlu",), 600),
    # one assistant start for both: the held-out conversations (issue 12 §7), then the held-out single questions
    "dialogue": (["--conversations", "bench/conversations", "--single-turns"], ("conversations", "dialogue"), 900),
    "kb_search": ([], ("kb_search",), 120),
    "console": ([], ("console",), 300),  # the operators' search page over HTTP (p50/p95/max)
}
P95_RATIO_TARGET = 1.5
# issue 12 §7, on the held-out sets
CONVERSATION_TARGETS = {"check_pass_share": 0.95, "conversation_pass_share": 0.90}
SINGLE_TURN_TARGETS = {"right_topic_share": 0.95, "wrong_topic_share": 0.0, "wrong_rule_answered_share": 0.02}


def _say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


# -- 1. understanding --------------------------------------------------------------------------------------------


def run_understanding(results_dir: Path) -> dict:
    """Run each understanding benchmark that exists; collect the JSON results it writes, or why there are none."""
    report: dict[str, dict] = {}
    for name, (arguments, results, timeout) in UNDERSTANDING.items():
        script = REPO / "bench" / f"{name}.py"
        if not script.exists():
            for result in results:
                report[result] = {"status": "not available", "reason": f"bench/{name}.py does not exist yet"}
            continue
        files = {result: RESULTS / f"{result}.json" for result in results}
        before = {result: f.stat().st_mtime if f.exists() else 0 for result, f in files.items()}
        _say(f"understanding: bench/{name}.py {' '.join(arguments)} (timeout {timeout} s)".replace("  ", " "))
        started = time.perf_counter()
        try:
            completed = subprocess.run(
                [sys.executable, str(script), *arguments],
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=timeout,
                env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"},
            )
        except subprocess.TimeoutExpired:
            for result in results:
                report[result] = {"status": "timeout", "seconds": timeout}
            continue
        seconds = round(time.perf_counter() - started, 1)
        for result, result_file in files.items():
            entry: dict = {"status": "ok" if completed.returncode == 0 else f"exit {completed.returncode}"}
            entry["seconds"] = seconds
            if len(results) > 1:
                entry["script"] = f"bench/{name}.py"
            if result_file.exists() and result_file.stat().st_mtime > before[result]:
                data = json.loads(result_file.read_text(encoding="utf-8"))
                if isinstance(data, dict):
                    data.pop("misses", None)  # long lists stay in the script's own result file
                entry["result"] = data
            else:
                entry["output_tail"] = (completed.stdout + completed.stderr)[-1500:]
            if results_dir != RESULTS and result_file.exists():
                shutil.copy(result_file, results_dir / result_file.name)
            report[result] = entry
    return report


# -- 2. our assistant --------------------------------------------------------------------------------------------


def _loads(quick: bool) -> dict:
    if quick:
        return {"one": (1, 10), "twenty": (20, 3), "wechat": (20, 2)}
    return {"one": (1, 40), "twenty": (20, 10), "wechat": (20, 5)}


def measure_ours(quick: bool) -> dict:
    wechat_token, api_port = secrets.token_hex(8), free_port()
    var_dir = Path(tempfile.mkdtemp(prefix="nxa-bench-var-"))
    assistant = Assistant(
        var_dir,
        extra_env={
            "WECHAT_TOKEN": wechat_token,
            "WECHAT_APP_ID": "wxbench000000000000",
            "WECHAT_APP_SECRET": "bench-secret",
            "WECHAT_API_BASE": f"http://127.0.0.1:{api_port}",
            "WECHAT_ENCODING_AES_KEY": "",
        },
    )
    report: dict = {}
    _say("ours: starting the assistant (python -m bot run)")
    started = time.perf_counter()
    start_patiently(assistant)
    report["startup_seconds"] = round(time.perf_counter() - started, 1)
    try:
        first = time.perf_counter()
        assistant.say("bench-first", "你好")
        report["first_turn_ms"] = round((time.perf_counter() - first) * 1000, 1)
        report["memory_idle_mib"] = cost.launcher_memory(assistant.process.pid)
        loads = _loads(quick)
        latency.warm_up(assistant.rest_url, latency.OUR_MESSAGES)
        for key, (users, turns) in (("users_1", loads["one"]), ("users_20", loads["twenty"])):
            _say(f"ours: REST, {users} user(s) × {turns} turns")
            report[key] = latency.measure(
                assistant.rest_url,
                users=users,
                turns=turns,
                messages=latency.OUR_MESSAGES,
                sender_prefix=f"bench-{key}",
            )
            _say(f"  {_line(report[key])}")
        report["memory_after_load_mib"] = cost.launcher_memory(assistant.process.pid)
        users, turns = loads["wechat"]
        _say(f"ours: WeChat, {users} users × {turns} turns")
        report["wechat"] = wechat_path.measure(
            f"{assistant.settings.rasa_url}/webhooks/wechat/webhook",
            wechat_token,
            api_port,
            users=users,
            turns=turns,
            messages=latency.OUR_MESSAGES,
        )
        w = report["wechat"]
        _say(f"  passive within 4 s {w['passive_within_4s']}/{w['turns']}, reply p99 {w['reply_p99_ms']} ms")
        log = assistant.log()
        report["log_errors"] = sum(1 for line in log.splitlines() if " ERROR " in line or "Traceback" in line)
    finally:
        assistant.stop()
        shutil.rmtree(var_dir, ignore_errors=True)
    return report


def _line(summary: dict) -> str:
    return (
        f"p50 {summary['p50_ms']} ms, p95 {summary['p95_ms']} ms, p99 {summary['p99_ms']} ms, "
        f"{summary['turns_per_second']} turns/s, {summary['answered']}/{summary['turns']} answered"
    )


# -- 3. the bare rasa init bot -----------------------------------------------------------------------------------


def measure_bare(quick: bool) -> dict:
    _say("bare: preparing the rasa init starter bot (trained once per Rasa version, then cached in var/bench/)")
    bot = reference_bot.prepare()
    report: dict = {"model": bot.model.name, "model_cached": bot.cached, "train_seconds": bot.train_seconds}
    port = free_port()
    log_path = bot.folder / "rasa.log"
    started = time.perf_counter()
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            reference_bot.command(bot, port),
            cwd=bot.folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"},
        )
    url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and process.poll() is None:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/webhooks/rest/", timeout=2).close()
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError(f"the bare bot did not start: {log_path.read_text(errors='replace')[-2000:]}")
        report["startup_seconds"] = round(time.perf_counter() - started, 1)
        report["memory_idle_mib"] = {"rasa": cost.rss_mib(process.pid)}
        loads = _loads(quick)
        latency.warm_up(url, latency.BARE_MESSAGES)
        for key, (users, turns) in (("users_1", loads["one"]), ("users_20", loads["twenty"])):
            _say(f"bare: REST, {users} user(s) × {turns} turns")
            report[key] = latency.measure(
                url, users=users, turns=turns, messages=latency.BARE_MESSAGES, sender_prefix=f"bare-{key}"
            )
            _say(f"  {_line(report[key])}")
        report["memory_after_load_mib"] = {"rasa": cost.rss_mib(process.pid)}
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        bot.cleanup()
    return report


# -- report ------------------------------------------------------------------------------------------------------


def machine() -> dict:
    import rasa

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True, text=True
    )
    return {
        "cores": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "rasa": rasa.__version__,
        "platform": platform.platform(),
        "git_commit": commit.stdout.strip() + ("+local changes" if dirty.stdout.strip() else ""),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def _fmt(value, unit: str = "") -> str:
    return "—" if value is None else f"{value}{unit}"


def issue_12_figures(understanding: dict) -> dict:
    """The figures issue 12 sets targets for, side by side with the targets (None where not measured)."""
    conversations = (understanding.get("conversations") or {}).get("result") or {}
    single = (understanding.get("dialogue") or {}).get("result") or {}
    keys = ("check_pass_share", "turn_pass_share", "conversation_pass_share", "conversations", "turns")
    single_keys = (
        "right_topic_share",
        "exact_rule_share",
        "asked_back_share",
        "wrong_rule_answered_share",
        "wrong_topic_share",
    )
    return {
        "conversations": {k: conversations.get(k) for k in keys},
        "single_turns": {k: single.get(k) for k in single_keys},
        "targets": {"conversations": CONVERSATION_TARGETS, "single_turns": SINGLE_TURN_TARGETS},
    }


def _target(value: float | None, target: float, at_most: bool = False) -> str:
    if value is None:
        return "—"
    met = value <= target if at_most else value >= target
    return f"**{value:.3f}** (target {'≤' if at_most else '≥'} {target}{'' if met else ', not met'})"


def conversation_lines(entry: dict | None) -> list[str]:
    """The held-out conversations (issue 12 §7): checks, turns and conversations passed, per behaviour."""
    lines = ["", "## Conversations (held-out `bench/conversations/`, issue 12)", ""]
    result = (entry or {}).get("result")
    if not result:
        reason = (entry or {}).get("reason") or (entry or {}).get("status") or "not run"
        return lines + [f"Not measured: {reason}."]
    lines += [
        f"{result['conversations']} conversations, {result['turns']} turns, {result['checks']} checks "
        f"({result['seconds']} s).",
        "",
        f"- turn checks passed: {result['checks_passed']}/{result['checks']} = "
        f"{_target(result['check_pass_share'], CONVERSATION_TARGETS['check_pass_share'])}",
        f"- turns passed (every check of the turn): {result['turns_passed']}/{result['turns']} = "
        f"**{result['turn_pass_share']:.3f}**",
        f"- conversations fully passed: {result['conversations_passed']}/{result['conversations']} = "
        f"{_target(result['conversation_pass_share'], CONVERSATION_TARGETS['conversation_pass_share'])}",
    ]
    if result.get("skipped"):
        lines.append(f"- skipped (another day than today): {len(result['skipped'])}")
    per_check = result.get("per_check_pass_share") or {}
    if per_check:
        lines += ["", "Per check: " + ", ".join(f"`{c}` {v:.2f}" for c, v in per_check.items()) + "."]
    per_tag = result.get("per_tag") or {}
    if per_tag:
        lines += [
            "",
            "| behaviour (tag) | conversations | fully passed | turns passed |",
            "| --- | ---: | ---: | ---: |",
        ]
        for tag, figures in per_tag.items():
            lines.append(
                f"| {tag} | {figures['conversations']} | {figures['conversation_pass_share']:.2f} | "
                f"{figures['turn_pass_share']:.2f} |"
            )
    return lines


def single_turn_lines(entry: dict | None) -> list[str]:
    """The held-out single questions: right topic, exact rule, asked back, wrong rule answered, wrong topic."""
    lines = ["", "## Single questions (held-out `bench/kb_questions/`, one question per conversation)", ""]
    result = (entry or {}).get("result")
    if not result:
        reason = (entry or {}).get("reason") or (entry or {}).get("status") or "not run"
        return lines + [f"Not measured: {reason}."]
    t = SINGLE_TURN_TARGETS
    lines += [
        f"{result['questions']} questions with an expected rule.",
        "",
        f"- right topic: {_target(result.get('right_topic_share'), t['right_topic_share'])}",
        f"- exact rule: **{result.get('exact_rule_share', 0):.3f}**",
        f"- asked back (a clarifying question, no answer): **{result.get('asked_back_share', 0):.3f}**",
        f"- wrong rule answered confidently: "
        f"{_target(result.get('wrong_rule_answered_share'), t['wrong_rule_answered_share'], at_most=True)}",
        f"- wrong topic: {_target(result.get('wrong_topic_share'), t['wrong_topic_share'], at_most=True)}",
        f"- out of scope without a KB answer: {result.get('out_of_scope_no_answer_share')} "
        f"({result.get('out_of_scope_questions')} questions); requests for a person handed to 12333: "
        f"{result.get('handoff_share')} ({result.get('handoff_requests')})",
    ]
    return lines


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"{m['date']}, commit {m['git_commit']}, {m['cores']} cores (load average at start "
        f"{', '.join(map(str, m['load_average_at_start']))}), Python {m['python']}, Rasa {m['rasa']}. "
        "Timings on a shared machine vary from run to run; compare within one run.",
        "",
        "## Latency and throughput (REST, per turn)",
        "",
        "| bot | users | turns | answered | p50 ms | p95 ms | p99 ms | turns/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for who in ("ours", "bare"):
        part = report.get(who) or {}
        for key in ("users_1", "users_20"):
            s = part.get(key)
            if s:
                lines.append(
                    f"| {who} | {s['users']} | {s['turns']} | {s['answered']} | {_fmt(s['p50_ms'])} | "
                    f"{_fmt(s['p95_ms'])} | {_fmt(s['p99_ms'])} | {_fmt(s['turns_per_second'])} |"
                )
    ratio = report.get("p95_ratio_20_users")
    lines += ["", f"p95 at 20 users, ours / bare `rasa init` bot: **{_fmt(ratio)}** (target ≤ {P95_RATIO_TARGET})."]
    w = (report.get("ours") or {}).get("wechat") or {}
    lines += ["", "## WeChat path (20 concurrent users, signed pushes)", ""]
    if "passive_share" in w:
        lines += [
            f"Passive replies within 4 s: **{w['passive_within_4s']}/{w['turns']}** "
            f"({w['passive_share']:.0%}); by customer-service message: {w['delivered_by_customer_service']}; "
            f"unanswered: {w['unanswered']}; reply time p50 {_fmt(w['reply_p50_ms'], ' ms')}, "
            f"p99 {_fmt(w['reply_p99_ms'], ' ms')}."
        ]
    else:
        lines += [f"Not measured: {w.get('reason') or w.get('error') or 'not available'}."]
    understanding = report.get("understanding") or {}
    lines += conversation_lines(understanding.get("conversations"))
    lines += single_turn_lines(understanding.get("dialogue"))
    lines += ["", "## Understanding", ""]
    if not understanding:
        lines.append("Not run (--skip-understanding).")
    for name, entry in understanding.items():
        result = entry.get("result") or {}
        figures = ", ".join(f"{k} {v}" for k, v in result.items() if isinstance(v, (int, float)))[:300]
        lines.append(
            f"- `{entry.get('script') or f'bench/{name}.py'}` ({name}): {entry.get('status')}"
            + (f" — {figures}" if figures else "")
            + (f" ({entry['reason']})" if entry.get("reason") else "")
        )
    ours, bare, train = report.get("ours") or {}, report.get("bare") or {}, report.get("train") or {}
    lines += [
        "",
        "## Cost",
        "",
        "| | ours | bare `rasa init` bot |",
        "| --- | ---: | ---: |",
        f"| train time | {_fmt(train.get('seconds'), ' s')} | {_fmt(bare.get('train_seconds'), ' s')}"
        f"{' (cached model; time of its first training)' if bare.get('model_cached') else ''} |",
        f"| start-up to a served webhook | {_fmt(ours.get('startup_seconds'), ' s')} | "
        f"{_fmt(bare.get('startup_seconds'), ' s')} |",
    ]
    mem_ours, mem_bare = ours.get("memory_after_load_mib") or {}, bare.get("memory_after_load_mib") or {}
    for name in sorted(set(mem_ours) | set(mem_bare), key=lambda n: (n != "rasa", n)):
        lines.append(
            f"| RSS after load, {name} | {_fmt(mem_ours.get(name), ' MiB')} | {_fmt(mem_bare.get(name), ' MiB')} |"
        )
    if report.get("errors"):
        lines += ["", "## Problems", ""] + [f"- {e}" for e in report["errors"]]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short loops (a smoke run, not a measurement)")
    parser.add_argument("--skip-bare", action="store_true", help="do not measure the bare rasa init bot")
    parser.add_argument("--skip-train", action="store_true", help="do not time a forced training")
    parser.add_argument("--skip-understanding", action="store_true", help="do not run nlu/dialogue/kb benchmarks")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for latest.json and latest.md")
    args = parser.parse_args()
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args.out.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    report: dict = {"machine": machine(), "quick": args.quick, "errors": []}
    _say(f"{report['machine']['cores']} cores, load average {report['machine']['load_average_at_start']}")
    # The current model, trained first if the training inputs changed, so that neither the understanding scripts'
    # timeouts nor our start-up time include a training.
    from bot.settings import Settings
    from bot.train import ensure_model

    ensure_model(Settings.from_env())
    report["understanding"] = {} if args.skip_understanding else run_understanding(args.out)
    report["issue_12"] = issue_12_figures(report["understanding"])
    exit_code = 0
    try:
        report["ours"] = measure_ours(args.quick)
    except Exception as exc:
        report["errors"].append(f"our assistant: {type(exc).__name__}: {str(exc)[-1500:]}")
        exit_code = 1
    if not args.skip_bare:
        try:
            report["bare"] = measure_bare(args.quick)
        except Exception as exc:
            report["errors"].append(f"bare bot: {type(exc).__name__}: {str(exc)[-1500:]}")
    ours_p95 = ((report.get("ours") or {}).get("users_20") or {}).get("p95_ms")
    bare_p95 = ((report.get("bare") or {}).get("users_20") or {}).get("p95_ms")
    report["p95_ratio_20_users"] = round(ours_p95 / bare_p95, 2) if ours_p95 and bare_p95 else None
    report["p95_ratio_target"] = P95_RATIO_TARGET
    if not args.skip_train:
        _say("cost: forced training of our model into a temporary folder")
        report["train"] = cost.train_time()
        _say(f"  {report['train']}")
    report["total_seconds"] = round(time.perf_counter() - started, 1)

    (args.out / "latest.json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    table = markdown(report)
    (args.out / "latest.md").write_text(table, encoding="utf-8")
    print(table)
    _say(f"done in {report['total_seconds']} s; written {args.out / 'latest.json'} and latest.md")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
