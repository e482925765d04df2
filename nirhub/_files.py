"""Writing output files safely (shared by the io, sim and hub layers).

Every output nirhub writes goes through these helpers, so all outputs behave alike:

* A **regular file** (or a path that does not exist yet) is written to a temporary file in the
  target's folder and renamed into place: readers never see a half-written file.
* An existing **character device or FIFO** (``-o /dev/null``, ``-o /dev/stdout``, a named pipe)
  is never replaced: the finished bytes are streamed into it. Other non-regular files (block
  devices, sockets) are refused.
* A **symbolic link** stands for the file it points to: that file is replaced atomically (the
  temporary file sits in *its* folder) and the link is kept. A dangling link is refused unless
  the caller forces, since following it would create a file wherever the link points.
* Temporary files and folders are named ``.nirhub-<pid>-<random>[.tmp]``. A process killed with
  SIGKILL cannot clean up after itself, so every write first removes such entries left in the
  target folder by processes of the same user that no longer run (older than
  :data:`STALE_AFTER_S`).
* A folder that cannot be written (read-only, no permission) is a :class:`CannotWriteError`
  (exit code 3), not a crash.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
import time
from pathlib import Path

from nirhub.errors import ExitCode, NirhubError, RefusedError

#: prefix of every temporary file and folder nirhub creates beside an output
TEMP_PREFIX = ".nirhub-"
#: a temporary entry older than this (seconds) whose process is gone is removed on the next write
STALE_AFTER_S = 600.0
_TEMP_NAME = re.compile(r"^\.nirhub-(\d+)-[A-Za-z0-9_]{6,}(\.tmp)?$")


class CannotWriteError(NirhubError):
    """An output cannot be written: read-only folder, missing permission, full disk..."""

    exit_code = ExitCode.INVALID_INPUT


def current_umask() -> int:
    """The process umask, read without changing it.

    Setting the umask to 0 and back to read it briefly changes it for the whole process, so another
    thread creating a file at that moment gets a world-writable file. Linux reports the umask in
    ``/proc/self/status``; elsewhere a probe file created with mode 0666 shows it.
    """
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    folder = tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-umask")
    try:
        probe = os.path.join(folder, "probe")
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        return 0o666 & ~stat.S_IMODE(os.stat(probe).st_mode)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def set_default_mode(path: str | os.PathLike[str]) -> None:
    """Give a file from ``tempfile.mkstemp`` (mode 0600) the usual 0666-minus-umask mode.

    Atomic writes create a private temporary file and rename it into place; without this the
    user's result files would be readable by their owner only.
    """
    os.chmod(path, 0o666 & ~current_umask())


def cannot_write(
    target: str | os.PathLike[str], exc: OSError, folder: str | None = None
) -> CannotWriteError:
    """The error for an OSError while writing ``target`` (in ``folder``, if creating a file
    there failed)."""
    reason = exc.strerror or str(exc)
    if folder is not None:
        reason = f"cannot create a file in {folder} ({reason})"
    return CannotWriteError(
        f"cannot write {os.fspath(target)}: {reason}",
        hint="Choose a folder you can write to (-o), or check its permissions and free space.",
    )


def clean_stale_temps(folder: str | os.PathLike[str]) -> list[str]:
    """Remove nirhub's temporary files/folders in ``folder`` left by dead processes.

    Only entries matching nirhub's temporary name, owned by this user, untouched for
    :data:`STALE_AFTER_S` seconds and whose process id no longer runs. Returns what was removed.
    """
    removed: list[str] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match is None:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if info.st_uid != os.geteuid() or now - info.st_mtime < STALE_AFTER_S:
            continue
        if _pid_alive(int(match.group(1))):
            continue
        if stat.S_ISDIR(info.st_mode):
            shutil.rmtree(entry.path, ignore_errors=True)
        elif stat.S_ISREG(info.st_mode):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
        else:
            continue
        removed.append(entry.path)
    return removed


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return True  # not a name we wrote: leave it alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def resolve_output(target: str | os.PathLike[str], *, force: bool) -> Path:
    """The path an output is really written to, after the checks every output gets.

    Follows a symbolic link to the file it names (refusing a dangling one without ``force``);
    refuses an existing file without ``force``, and non-regular files nirhub cannot write into
    (directories, block devices, sockets). Character devices and FIFOs are returned as they
    are: :func:`finish_output` streams into them.
    """
    path = Path(target)
    if path.is_symlink():
        real = Path(os.path.realpath(path))
        if not real.exists():
            if not force:
                raise RefusedError(
                    f"{path} is a symbolic link to {real}, which does not exist; not creating "
                    "a file through it",
                    hint="Pass --force (force=True) to create the file the link points to.",
                )
        elif not force:
            raise RefusedError(
                f"{path} already exists (a link to {real})", hint="Pass --force to overwrite it."
            )
        path = real
    try:
        info = path.stat()
    except FileNotFoundError:
        return path
    except OSError as exc:
        raise cannot_write(path, exc) from None
    if stat.S_ISDIR(info.st_mode):
        raise CannotWriteError(f"cannot write {path}: it is a directory; give a file name")
    if not force:
        raise RefusedError(f"{path} already exists", hint="Pass --force to overwrite it.")
    if stat.S_ISREG(info.st_mode) or stat.S_ISCHR(info.st_mode) or stat.S_ISFIFO(info.st_mode):
        return path
    raise RefusedError(
        f"{path} is neither a regular file, a character device nor a FIFO; nirhub does not "
        "write into it",
        hint="Choose a regular file as the output.",
    )


def is_stream(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is an existing character device or FIFO (written into, not replaced)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def make_temp_file(
    folder: str | os.PathLike[str], target: str | os.PathLike[str]
) -> tuple[int, str]:
    """A private temporary file in ``folder`` (``mkstemp``), after cleaning stale ones.

    For a device or FIFO target the file goes to the system's temporary folder instead (the
    bytes are streamed into the target at the end; nobody may write into ``/dev``).
    """
    folder = tempfile.gettempdir() if is_stream(target) else (os.fspath(folder) or ".")
    clean_stale_temps(folder)
    try:
        return tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise cannot_write(target, exc, folder) from None


def make_temp_dir(folder: str | os.PathLike[str], target: str | os.PathLike[str]) -> Path:
    """A private temporary folder in ``folder`` (``mkdtemp``), after cleaning stale ones
    (in the system's temporary folder for a device or FIFO target, as :func:`make_temp_file`)."""
    folder = tempfile.gettempdir() if is_stream(target) else (os.fspath(folder) or ".")
    clean_stale_temps(folder)
    try:
        return Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=folder))
    except OSError as exc:
        raise cannot_write(target, exc, folder) from None


def finish_output(tmp: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Put the finished temporary file ``tmp`` in place of ``target`` (already resolved).

    A regular (or absent) target is replaced atomically with the usual permissions; a
    character device or FIFO gets the bytes streamed into it and ``tmp`` is removed.
    """
    try:
        if is_stream(target):
            _stream_into(tmp, target)
            os.unlink(tmp)
            return
        set_default_mode(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        raise cannot_write(target, exc) from None


def _stream_into(tmp: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    with open(tmp, "rb") as src, open(target, "wb", buffering=0) as dst:
        shutil.copyfileobj(src, dst, 1 << 20)


def check_output_folder(path: str | os.PathLike[str]) -> None:
    """Refuse, before any work, an output whose folder is missing or not writable.

    A conversion or a run can take seconds to minutes; finding out afterwards that its
    result cannot be written wastes them (the atomic write still reports what the file
    system says, e.g. an immutable folder that ``os.access`` cannot see).
    """
    from pathlib import Path

    from nirhub.errors import UsageError

    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(
            f"cannot write {target}: the folder {folder} does not exist",
            hint=f"Create it first (mkdir -p {folder}) or choose another -o.",
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(
            f"cannot write {target}: the folder {folder} is not writable",
            hint="Choose another -o.",
        )
