"""User-facing errors: one line that names the file, key or value and what would be valid.

Everything a user can get wrong (config, data, hub access) raises an ``ITTError``; the entry points
print it as a single ``error: ...`` line and exit non-zero. Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from pathlib import Path


class ITTError(Exception):
    """A mistake in the user's input or environment, explained in one line."""

    exit_code = 2


class ConfigError(ITTError):
    """A config key or value that cannot work."""


class DataError(ITTError):
    """A dataset file, column, label or split that cannot work."""


class HubUnreachableError(ITTError):
    """A hub model or dataset that is not cached and cannot be downloaded."""


class OutputError(ITTError):
    """A folder itt writes to (``paths.root``, ``paths.cache``) that cannot take a write: full, read-only, not
    permitted, or under a file."""


class TrainingFailed(ITTError):
    """A run that started but could not finish (NaN loss, ...). Recorded in the ledger."""

    exit_code = 1


# What writing fails with when the place is wrong, not the code: no permission, a read-only or full disk, a file where
# a folder should be, a folder where a file should be (a folder named like the ledger).
UNWRITABLE = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR, errno.EEXIST,
                        errno.EISDIR})
# Those that can only come from a write, so a failure that names no file (``os.write`` on a descriptor, a file's
# flush on close, pyarrow, safetensors) is still known to be one.
_WRITE_ONLY = frozenset({errno.EROFS, errno.ENOSPC, errno.EDQUOT})
_NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT})


def why_no_folder(path, exc: OSError) -> str:
    """Why a folder could not be made at ``path``: the file in the way (``paths.root`` or ``out=`` under a
    file, a NotADirectoryError or FileExistsError), else the system's reason (permission, read-only, full)."""
    blocker = file_in_the_way(Path(path))
    return f"{blocker} is a file, not a folder" if blocker is not None else exc.strerror or str(exc)


def file_in_the_way(path: Path) -> Path | None:
    """The file at ``path`` or at one of its parents, which keeps a folder from being made there (None: none)."""
    return next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)


def _errno(exc: BaseException) -> int | None:
    """The errno of ``exc``; pyarrow's OSErrors (the datasets cache) carry it only in their text ("[errno 28]"), as
    safetensors' errors (the exported model) do in Rust's words ("(os error 28)")."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return exc.errno
    found = re.search(r"\[errno (\d+)\]|\(os error (\d+)\)", str(exc), re.IGNORECASE)
    return int(found.group(1) or found.group(2)) if found else None


def _under(path: Path, folder: Path) -> bool:
    for a, b in ((path.absolute(), folder.absolute()), (path.resolve(), folder.resolve())):
        if a == b or b in a.parents:
            return True
    return False


def write_failure(exc: BaseException, folder, key: str, target=None) -> OutputError | None:
    """``exc`` as one line naming the path, the system's reason and what to do, if it is a write failure in
    ``folder`` (itt's own output or cache folder, set by the config ``key``): one of :data:`UNWRITABLE` on a file
    under ``folder``, or a full or read-only disk on no named file (then named ``target``, by default ``folder``;
    also a library's own error that says so only in its text, as safetensors' does). None for anything else (a bug,
    or a user's data file that cannot be read, keeps its own error)."""
    if (code := _errno(exc)) not in UNWRITABLE:
        return None
    filename = exc.filename if isinstance(exc, OSError) else None
    if filename is not None:
        path = Path(os.fsdecode(filename))
        if not _under(path, Path(folder)):
            return None
    elif code in _WRITE_ONLY:
        path = Path(target if target is not None else folder)
    else:
        return None
    if code in (errno.ENOTDIR, errno.EEXIST):
        blocker = file_in_the_way(path)
        if blocker is None:  # a folder that exists where the code expected none: a bug, not the place
            return None
        reason = "it is a file, not a folder" if blocker == path else f"{blocker} is a file, not a folder"
    elif code == errno.EISDIR:
        reason = "it is a folder, not a file"
    else:
        reason = os.strerror(code)
        reason = reason[0].lower() + reason[1:]
    if code in _NO_ROOM:
        todo = f"free space there or set {key}= to a folder with room"
    elif code == errno.EISDIR:
        todo = f"move that folder away or set {key}= to another folder"
    else:
        todo = f"set {key}= to a folder you can write to"
    return OutputError(f"cannot write {path}: {reason}; {todo}")


@contextlib.contextmanager
def writing(folder, key: str, target=None):
    """Inside: a write failure in ``folder`` (:func:`write_failure`) becomes an :class:`OutputError`; any other
    error passes unchanged."""
    try:
        yield
    except OSError as exc:
        error = write_failure(exc, folder, key, target)
        if error is None:
            raise
        raise error from exc


def one_line(message: str) -> str:
    """Collapse a (possibly multi-line) library message into one readable line."""
    text = re.sub(r"\s*\n\s*", "; ", str(message).strip())
    text = re.sub(r"[ \t]+", " ", text)
    return re.sub(r"(; )+", "; ", text).strip("; ")


def chain(exc: BaseException | None):
    """``exc`` and every exception behind it (``__cause__``, else ``__context__``, suppressed or not:
    OmegaConf raises a resolver's error as the context of the error it wraps it in)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def ours(exc: BaseException) -> ITTError | None:
    """The first of our own errors behind ``exc`` (Hydra and OmegaConf wrap what resolvers raise)."""
    return next((e for e in chain(exc) if isinstance(e, ITTError)), None)


def describe(exc: BaseException) -> str:
    """The one line a user sees for ``exc``: our own errors as written; Hydra's and OmegaConf's config
    errors rewritten from their attributes (key, value, options) to name the key or value and what
    would be valid, without the search path, ``full_key:`` trailers and "+key=" advice that does not
    apply."""
    found = ours(exc)
    if found is not None:
        return one_line(str(found))
    try:
        text = _missing_value(exc) or _describe_config_error(exc)
    except Exception:  # noqa: BLE001 (the reporter must never fail; fall back to the library's text)
        text = None
    return one_line(text if text is not None else _first_line(exc))


def _missing_value(exc: BaseException) -> str | None:
    """A required key left without a value (``'+task.evals={de:{lang:de}}'``: no path), which OmegaConf says as
    "MissingMandatoryValue raised while resolving interpolation: Missing mandatory value: task.evals.de.path"."""
    from omegaconf.errors import MissingMandatoryValue  # noqa: PLC0415

    from itt.data.files import LOCAL_FORMATS  # noqa: PLC0415 (this module imports nothing of itt's at load)

    found = next((e for e in chain(exc) if isinstance(e, MissingMandatoryValue) and getattr(e, "full_key", None)), None)
    if found is None:
        return None
    key = str(found.full_key)
    if re.fullmatch(r"task\.(?:datasets|evals)\.[^.]+\.path", key):
        return f"{key} has no value: give a hub dataset id (owner/name) or a local {LOCAL_FORMATS} file or folder"
    return f"{key} has no value: set it with {key}=<value>"


def _spec_key_by_key(exc: BaseException, cause: BaseException) -> str | None:
    """``+task.evals.de.path=x.csv``: OmegaConf cannot build a typed dataset spec key by key, and said only "de=None:
    Invalid type assigned: dict is not a subclass of DatasetSpec"; the way that composes is one entry."""
    found = re.match(r"Error merging override (\+*)(task\.(?:evals|datasets))\.([^.=]+)\.([^=]+)=(.*)", str(exc))
    # only that message: OmegaConf names DatasetSpec (reference_type=...) in every error of an existing spec's key too
    if "is not a subclass of DatasetSpec" not in str(cause) or found is None:
        return None
    _, group, name, key, value = found.groups()
    return (f"{group}.{name}.{key}={value}: a new dataset spec is added as one entry, not key by key: "
            f"'+{group}={{{name}:{{{key}:{value},lang:...}}}}' (the keys it needs inside the braces)")


def _first_line(exc: BaseException) -> str:
    return str(getattr(exc, "msg", None) or exc).strip().split("\n")[0]


def _describe_config_error(exc: BaseException) -> str | None:
    import difflib  # noqa: PLC0415

    from hydra.errors import MissingConfigException  # noqa: PLC0415
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException, ValidationError  # noqa: PLC0415

    if isinstance(exc, MissingConfigException) and exc.missing_cfg_file and exc.options:
        group, _, name = exc.missing_cfg_file.rpartition("/")
        if group:  # model=bret, +stage=foo, hydra/launcher=nope
            return f"{group}={name} is not an option of {group}; valid: {', '.join(exc.options)}"
    cause = exc.__cause__
    if not isinstance(cause, OmegaConfBaseException) or not getattr(cause, "full_key", None):
        return None
    spec = _spec_key_by_key(exc, cause)
    if spec is not None:
        return spec
    key, short = str(cause.full_key), str(cause.key)
    section = key.rpartition(".")[0]
    if isinstance(cause, (ConfigAttributeError, ConfigKeyError)):  # a key the schema does not have
        object_type = getattr(cause, "object_type", None)
        if section == "stage" and getattr(object_type, "__name__", "") == "IntermediateStage":
            return (f"{key} does not apply to +stage=intermediate (intermediate runs have one dataset); "
                    f"stage.target and stage.itt belong to +stage=target, e.g. +stage=target stage.target=domain")
        parent = getattr(cause, "parent_node", None)
        valid = [str(k) for k in (parent.keys() if parent is not None else []) if str(k) not in ("hydra", "_target_")]
        close = difflib.get_close_matches(short, valid, n=1)
        hint = f" (did you mean {section + '.' if section else ''}{close[0]}?)" if close else ""
        if section and not valid:  # an open, empty section (measure.params, task.options): "keys of x:" and nothing
            return f"{key} is not a config key: {section} has none yet; add one with +{key}=<value>"
        keys = f"; keys of {section}: " if section else "; top-level keys: "
        extra = f"; other Lightning Trainer arguments are added with +{key}=<value>" if section == "trainer" and not close else ""
        return f"{key} is not a config key{hint}{keys}{', '.join(valid)}{extra}"
    if isinstance(cause, ValidationError):  # trainer.max_epochs=abc, stage.itt=maybe
        return f"{key}={cause.value}: {_first_line(cause)}"
    return None
