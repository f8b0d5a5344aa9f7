"""What every ``python -m itt.<command>`` Hydra app shares: only the user's mistakes end as one line.

``run(main)`` runs a ``@hydra.main`` function; ``job()`` wraps its body. Our own errors (``ITTError``,
wherever Hydra or OmegaConf wrapped them) are the user's: one ``error: ...`` line and exit code 2
(``TrainingFailed``: 1). Hydra's and OmegaConf's errors are the user's only while Hydra composes the
command (a bad override, group or value) and only if no exception behind them was raised by itt's own
code; so is an output folder Hydra cannot make before the job starts (``paths.root`` under a file, read-only).
Anything else is a bug and keeps its traceback, as does everything with ``ITT_DEBUG=1``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from itt.errors import UNWRITABLE, ConfigError, ITTError, chain, describe, ours, why_no_folder
from itt.progress import in_sweep

_ITT_DIR = str(Path(__file__).resolve().parent)
_in_job = False  # set once Hydra has composed a config and called the app's main


def debug() -> bool:
    return os.environ.get("ITT_DEBUG") == "1"


@contextlib.contextmanager
def job():
    """The body of an app's main: from here on only our own errors are the user's, and (outside sweeps,
    where the sweep goes on) one of them ends the process with one line."""
    global _in_job
    _in_job = True
    try:
        yield
    except ITTError as exc:
        if not in_sweep() and not debug():
            exit_with(exc)  # here, not in run(): Hydra would first print "Error executing job with overrides: ..."
        raise


def run(main) -> None:
    # Hydra prints its own multi-line errors unless told to raise; we want one line.
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")
    try:
        main()
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 (re-raised unless it is the user's mistake)
        error = user_error(exc, _in_job)
        if error is None or debug():
            raise
        exit_with(error)


def user_error(exc: BaseException, in_job: bool) -> BaseException | None:
    """The user-facing error behind ``exc``, or None for a bug (which keeps its traceback)."""
    found = ours(exc)
    if found is not None:
        return found
    errors = list(chain(exc))
    if not in_job and (unwritable := _output_folder_error(errors[0])) is not None:
        return unwritable
    if not in_job and isinstance(errors[0], (HydraException, OmegaConfBaseException)) \
            and not any(_raised_in_itt(e) for e in errors):
        return errors[0]
    return None


def _output_folder_error(exc: BaseException) -> ConfigError | None:
    """Before the job starts, Hydra makes its output folder under ``paths.root`` (``${paths.root}/runs/<run id>``,
    ``.../sweeps/...``, ``.../measure_logs``) and writes nothing else: an OSError there is the root the user gave
    (a NotADirectoryError traceback for a root under a file). None for anything else."""
    if not isinstance(exc, OSError) or exc.errno not in UNWRITABLE or not exc.filename or _raised_in_itt(exc):
        return None
    path = Path(os.fsdecode(exc.filename))
    return ConfigError(f"cannot make the output folder {path}: {why_no_folder(path, exc)}; "
                       f"set paths.root to a folder you can write to")


def _raised_in_itt(exc: BaseException) -> bool:
    """Whether the innermost frame of ``exc``'s traceback is in the itt package."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_code.co_filename.startswith(_ITT_DIR)


def exit_with(error: BaseException) -> None:
    print(f"error: {describe(error)}", file=sys.stderr)
    sys.exit(getattr(error, "exit_code", 2))


@contextlib.contextmanager
def composing(config_dir: str | None):
    """Hydra initialised for ``compose`` as ``python -m itt.train`` initialises it: itt's ``conf/``, and a
    user's ``--config-dir`` searched before it (what Hydra's own flag does), so the commands that compose
    without running (``itt.plan``, ``itt.data check``, ``--status``) read a task config kept outside the
    repository as a run would."""
    # What hydra.initialize_config_dir does (version base, the caller's Hydra restored afterwards), with the
    # extra directory prepended to the search path as Hydra's --config-dir prepends it.
    from hydra import version  # noqa: PLC0415
    from hydra._internal.hydra import Hydra  # noqa: PLC0415
    from hydra._internal.utils import create_config_search_path  # noqa: PLC0415
    from hydra.core.config_search_path import SearchPathQuery  # noqa: PLC0415
    from hydra.initialize import get_gh_backup, restore_gh_from_backup  # noqa: PLC0415

    from itt.train import CONF_DIR  # noqa: PLC0415 (registers schemas and resolvers)

    backup = get_gh_backup()
    version.setbase("1.3")
    search_path = create_config_search_path(CONF_DIR)
    if config_dir is not None:
        search_path.prepend("command-line", f"file://{config_dir}", anchor=SearchPathQuery(provider="schema"))
    Hydra.create_main_hydra2(task_name="itt", config_search_path=search_path)
    try:
        yield
    finally:
        restore_gh_from_backup(backup)


def split_flags(argv: list[str], program: str) -> tuple[list[str], str | None]:
    """The overrides and the ``--config-dir``/``-cd`` directory (absolute) of a command line; ``-m`` is
    dropped (these commands always cover the whole sweep). Hydra's other flags change nothing these commands show or
    are not supported here: one line saying so, not a parser error about the flag."""
    overrides, config_dir, rest = [], None, list(argv)
    while rest:
        arg = rest.pop(0)
        if arg in ("-m", "--multirun"):
            continue
        name, eq, value = arg.partition("=")
        if name in ("--config-dir", "-cd"):
            if not eq:
                if not rest:
                    raise ConfigError(f"{name} needs a directory")
                value = rest.pop(0)
            config_dir = os.path.abspath(value)
            if not os.path.isdir(config_dir):
                raise ConfigError(f"{name} {value}: no such directory")
        elif arg.startswith("-"):
            raise ConfigError(f"{program} takes overrides, -m and --config-dir only, not {arg}")
        else:
            overrides.append(arg)
    return overrides, config_dir
