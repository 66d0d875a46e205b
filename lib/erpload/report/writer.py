"""Writing artifacts so that they never contradict the process: atomic files, all-or-nothing sets (pure).

    check_report_dir("reports/run-1")         # before any load: ConfigError (exit 2) if unusable
    write_atomic(path, text)                  # temp file + fsync + os.replace: never half a file
    write_all({path: text, ...})              # every file, or none of them + ReportWriteError (exit 6)

A full disk used to leave summary.json saying "pass, exit 0" beside a process exiting 6: a set of
reports is staged first (every temp file written and fsynced), renamed into place only when every
one of them was staged, and on any failure nothing of the set is left behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from erpload.core.errors import ConfigError, ErploadError, ExitCode, Problem

__all__ = ["ReportWriteError", "check_report_dir", "write_all", "write_atomic"]


class ReportWriteError(ErploadError):
    """Some reports could not be written; none of the set was left (or kept) in the report dir."""

    exit_code = ExitCode.INTERNAL_ERROR

    def __init__(self, failed: Mapping[Path, str], removed: list[Path] | None = None) -> None:
        self.failed, self.removed = dict(failed), list(removed or [])
        super().__init__(self.render())

    def render(self) -> str:
        lines = ["Error: reports could not be written:"]
        lines += [f"  {path}: {why}" for path, why in self.failed.items()]
        if self.removed:
            lines.append(
                "  removed so that no report contradicts this exit code: "
                + ", ".join(str(p) for p in self.removed)
            )
        lines.append(
            "  Free space in the report directory (or choose another with --report-dir) and run again."
        )
        return "\n".join(lines)


def _why(e: BaseException) -> str:
    return e.strerror or str(e) if isinstance(e, OSError) else f"{type(e).__name__}: {e}"


def _stage(target: Path, data: str | bytes) -> Path:
    """Write `data` to a temp file beside `target` and fsync it; the temp file's path."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def _sync_dir(directory: Path) -> None:
    """Persist renames in `directory`; not possible on every platform/filesystem."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write via a temp file in the same directory + fsync + os.replace: readers never see half a file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _stage(target, data)
    try:
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_dir(target.parent)
    return target


def write_all(files: Mapping[Path, str | bytes]) -> list[Path]:
    """Write every file atomically, or none: on any failure ReportWriteError naming each one and why.

    Files of the set that already exist (an earlier run's, in the same directory) are removed on
    failure too: left in place they would pass for this run's result.
    """
    failed: dict[Path, str] = {}
    staged: dict[Path, Path] = {}
    for target, data in files.items():
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            staged[target] = _stage(target, data)
        except OSError as e:
            failed[target] = _why(e)
    if not failed:
        for target, tmp in staged.items():
            try:
                os.replace(tmp, target)
            except OSError as e:
                failed[target] = _why(e)
    if not failed:
        for directory in {t.parent for t in files}:
            _sync_dir(directory)
        return list(files)
    removed: list[Path] = []
    for target in files:
        if (tmp := staged.get(target)) is not None:
            tmp.unlink(missing_ok=True)
        try:  # ours (renamed before a later one failed) or an earlier run's: neither may stay
            target.unlink()
            removed.append(target)
        except FileNotFoundError:
            pass
        except OSError as e:
            failed.setdefault(target, f"could not remove the stale file: {_why(e)}")
    raise ReportWriteError(failed, removed)


def check_report_dir(path: str | os.PathLike[str], where: str = "--report-dir") -> None:
    """Before any load: create `path` if missing and prove a file can be created in it (ConfigError)."""
    p = Path(path)
    source = f"{where} {p}"
    fix = "Give a directory you can write to (it is created if missing)"
    if p.exists() and not p.is_dir():
        raise ConfigError(source, [Problem(where, f"{str(p)!r} is a file, not a directory", fix)])
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(source, [Problem(where, f"cannot create {str(p)!r}: {_why(e)}", fix)]) from None
    try:
        fd, probe = tempfile.mkstemp(dir=p, prefix=".erpload-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise ConfigError(source, [Problem(where, f"cannot write in {str(p)!r}: {_why(e)}", fix)]) from None
