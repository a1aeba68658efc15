"""Run one reliability case and classify what happened, the way a user would see it.

A :class:`Case` builds its input in a fresh folder, runs one command (a CLI ``main(argv)`` in process, or a library
call) with the working directory inside that folder, and states what must happen:

* ``kind="error"``: exit status 2 (130 after Ctrl-C) and one ``error: ...`` line on stderr containing ``expect``
  (argparse's usage block followed by its one error line counts as one error);
* ``kind="warn"``: exit status 0 and ``expect`` in what the run printed;
* ``kind="ok"``: exit status 0 (and ``check`` passes).

For every kind, the files named by ``untouched`` keep their bytes and no path in ``absent`` exists afterwards
(nothing written outside the declared folders). Outcomes are ``clear`` (what the case asks for), ``traceback``
(an exception escaped, or the process aborted), ``silent`` (exit 0 where a refusal or a warning was due, a wrong
result, or a file changed that must not), ``late`` (the right error, but only after writing where nothing should
have been written: the value was checked too late), ``clear-other`` (one error line, but not the one the case
expects: another check spoke first), ``refused`` (a refusal where the run should have gone through, or an error of
several lines) and ``hang`` (over the time limit, forked runs only).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import pickle
import select
import signal
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUTCOMES = ("clear", "clear-other", "late", "refused", "traceback", "silent", "hang")


@dataclass
class Ctx:
    """What a case's builder prepared: its folder, the data path, and anything the command or check needs."""

    dir: Path
    data: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.extra[key]


@dataclass(frozen=True)
class Case:
    """One bad input or fault, and what must happen.

    Args:
        id: short stable name (``area-what``).
        area: ``config``, ``cli``, ``data``, ``checkpoint``, ``output``, ``pretrain``, ``graph``.
        build: ``build(case_dir, world) -> Ctx``: writes the input files.
        run: ``run(ctx) -> exit status``.
        expect: fragment of the one-line error (``error``) or of the warning (``warn``).
        kind: ``error``, ``warn`` or ``ok``.
        untouched: paths relative to the case folder whose content must not change.
        absent: paths (or glob patterns) relative to the case folder that must not exist afterwards.
        check: extra assertions on the result, ``check(ctx, printed)`` (a failing one makes the case ``silent``).
        note: the issue's wording of the case, when it comes from the issue.
        rc: the exit status of an ``error`` (2; 130 for Ctrl-C).
    """

    id: str
    area: str
    build: Callable[[Path, Any], Ctx]
    run: Callable[[Ctx], int]
    expect: str = ""
    kind: str = "error"
    untouched: Sequence[str] = ()
    absent: Sequence[str] = ()
    check: Callable[[Ctx, str], None] | None = None
    note: str = ""
    rc: int = 2


@dataclass
class Outcome:
    """What happened: classified ``status`` plus the evidence."""

    status: str
    rc: int | None
    stdout: str
    stderr: str
    detail: str = ""
    seconds: float = 0.0

    def explain(self) -> str:
        return (f"status {self.status} (rc {self.rc}): {self.detail}\n--- stderr ---\n{self.stderr[-3000:]}"
                f"\n--- stdout ---\n{self.stdout[-1500:]}")


def fingerprint(root: Path, rel: str) -> str:
    """Content hash of a file, or of every file under a folder (names + bytes); ``missing`` if absent."""
    path = root / rel
    if not path.exists():
        return "missing"
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        digest.update(str(f.relative_to(root)).encode())
        digest.update(f.read_bytes())
    return digest.hexdigest()


def _error_lines(stderr: str) -> list[str]:
    lines = [line for line in stderr.splitlines() if line.strip()]
    if lines and lines[0].startswith("usage:") and ": error: " in lines[-1]:
        return lines[-1:]  # argparse: the usage block, then one error line
    return lines


def classify(case: Case, rc: int | None, out: str, err: str, crash: str, ctx: Ctx | None,
             changed: list[str], present: list[str]) -> tuple[str, str]:
    """``(status, detail)`` of one run (see the module docstring)."""
    if crash:
        return "traceback", crash.strip().splitlines()[-1] if crash.strip() else "crash"
    if "Traceback (most recent call last)" in err:
        return "traceback", "a traceback was printed"
    if case.kind == "error":
        if rc == 0:
            return "silent", "exit 0 where a refusal was due"
        lines = _error_lines(err)
        if rc != case.rc or len(lines) != 1:
            return "refused", f"rc {rc}, {len(lines)} error line(s), expected {case.expect!r}"
    elif rc != 0:
        return "refused", f"rc {rc} where the run should go through"
    if changed:
        return "silent", f"changed {changed}"
    if present:
        return ("late" if case.kind == "error" else "silent"), f"written {present}"
    if case.kind == "error" and case.expect.lower() not in err.lower():
        return "clear-other", f"one line, but not {case.expect!r}"
    if case.kind == "warn" and case.expect.lower() not in (out + err).lower():
        return "silent", f"no warning {case.expect!r}"
    if case.check is not None and ctx is not None:
        try:
            case.check(ctx, out + err)
        except AssertionError as e:
            return "silent", f"check failed: {e}"
        except Exception:  # noqa: BLE001 - a check that crashes means the result is not what it should be
            return "traceback", traceback.format_exc().strip().splitlines()[-1]
    return "clear", ""


@contextlib.contextmanager
def _in_dir(path: Path):
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def execute(case: Case, case_dir: Path, world: Any) -> Outcome:
    """Build, run and classify ``case`` in this process (working directory ``case_dir/cwd``)."""
    case_dir.mkdir(parents=True, exist_ok=True)
    ctx = case.build(case_dir, world)
    before = {rel: fingerprint(case_dir, rel) for rel in case.untouched}
    cwd = case_dir / "cwd"
    cwd.mkdir(exist_ok=True)
    out, err = io.StringIO(), io.StringIO()
    rc: int | None = None
    crash = ""
    t0 = time.perf_counter()
    with _in_dir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = case.run(ctx)
        except SystemExit as e:  # argparse
            rc = e.code if isinstance(e.code, int) else 1
        except BaseException:  # noqa: BLE001 - whatever escapes is the finding
            crash = traceback.format_exc()
    seconds = time.perf_counter() - t0
    _close_run_log()
    changed = [rel for rel in case.untouched if fingerprint(case_dir, rel) != before[rel]]
    present = [rel for rel in case.absent if any(case_dir.glob(rel))]
    status, detail = classify(case, rc, out.getvalue(), err.getvalue(), crash, ctx, changed, present)
    if crash:
        err.write(crash)
    return Outcome(status, rc, out.getvalue(), err.getvalue(), detail, seconds)


def _close_run_log() -> None:
    """Detach the run logger's handlers (they hold the case's log file and its captured stdout)."""
    import logging

    logger = logging.getLogger("missrec")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


def execute_forked(case: Case, case_dir: Path, world: Any, timeout: float = 120.0) -> Outcome:
    """:func:`execute` in a forked child: an abort becomes ``traceback``, a run past ``timeout`` becomes ``hang``."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read)
        try:
            payload = pickle.dumps(execute(case, case_dir, world))
        except BaseException:  # noqa: BLE001
            payload = pickle.dumps(Outcome("traceback", None, "", traceback.format_exc(), "harness"))
        with os.fdopen(write, "wb") as f:
            f.write(payload)
        os._exit(0)
    os.close(write)
    chunks, deadline = [], time.monotonic() + timeout
    with os.fdopen(read, "rb") as f:
        while True:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([f], [], [], max(left, 0))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return Outcome("hang", None, "", "", f"over {timeout:.0f}s")
            chunk = os.read(f.fileno(), 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return Outcome("traceback", -os.WTERMSIG(status), "", "", f"process killed by signal {os.WTERMSIG(status)}")
    return pickle.loads(b"".join(chunks))
