"""Helpers shared by every artifact: atomic writes, manifests, version checks, file digests."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, ForwardRef, TypeAlias, TypedDict

from gendef_core import __version__
from gendef_core.artifacts.schema import FPS, PLAIN_NAME, Invalid, is_plain_name, show
from gendef_core.errors import ArtifactError, GendefError

MANIFEST = "manifest.json"

if TYPE_CHECKING:
    JsonValue: TypeAlias = bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"] | None
else:  # the same alias, its self-references resolvable from any module (typing.get_type_hints of a TypedDict)
    _JSON = ForwardRef("JsonValue", module=__name__)
    JsonValue = bool | int | float | str | list[_JSON] | dict[str, _JSON] | None
JsonObject: TypeAlias = dict[str, JsonValue]
"""A JSON object: the open-ended parts of manifests and reports (metadata, sources, ground truth)."""


class Header(TypedDict):
    """The header every gendef file starts with (`header`)."""

    format: str
    format_version: int
    gendef_version: str


class FileRecord(TypedDict):
    """A file's record in a manifest's ``files`` (`file_record`): its size and content digest."""

    bytes: int
    sha256: str


def _temp_sibling(path: Path, tag: str) -> Path:
    # Hidden, unique and in the same directory, so the final rename is atomic (same filesystem). Absolute
    # first: `--out .` has no name of its own.
    path = Path(os.path.abspath(path))
    return path.with_name(f".{path.name}.{tag}-{uuid.uuid4().hex[:8]}")


DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
"""The errors of a full disk (or an exhausted quota)."""


def _size(path: Path) -> int:
    try:
        if path.is_file():
            return path.stat().st_size
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    except OSError:
        return 0


class DiskFull(ArtifactError):
    """A full disk while writing an artifact (`disk_full`); an enclosing `atomic_dir` re-words it for its own,
    final output path, so the message never names a hidden temporary file."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def disk_full(error: OSError | DiskFull, path: Path, *, written: Path | None = None) -> DiskFull:
    """The one-line error for a full disk while writing `path`: what could not be written, how much had been
    written when the space ran out (the least the output needs), and the fix."""
    code = error.code if isinstance(error, DiskFull) else (error.errno or errno.ENOSPC)
    done = _size(written) if written is not None else 0
    amount = f"{done / 2**20:.1f} MiB" if done >= 2**20 // 10 else f"{max(done // 1024, 1)} KiB"
    need = f"; it needs more than the {amount} written when the disk filled up" if done else ""
    return DiskFull(f"no space left on the device to write {path} ({os.strerror(code)}){need}; nothing was left "
                    f"half-written; free space there or write elsewhere", code)


def _appeared(path: Path, what: str) -> ArtifactError:
    """The error of a second writer: `path` was created by someone else while this command wrote it."""
    return ArtifactError(f"{path} appeared while this command was writing it (another command writing the same "
                         f"output?); it was left as it is and this {what} was not written; give another output "
                         f"path, or `overwrite` to replace it")


@contextlib.contextmanager
def naming_full_disk(path: Path, written: Path | None = None) -> Iterator[None]:
    """Turn a full disk inside the body (an `OSError`, or the `DiskFull` of a writer nested inside) into the one
    `disk_full` error for `path`, the output the user asked for, never its temporary files."""
    try:
        yield
    except DiskFull as e:
        raise disk_full(e, path, written=written) from None
    except OSError as e:
        if e.errno in DISK_FULL:
            raise disk_full(e, path, written=written) from None
        raise


def _place(tmp: Path, path: Path, *, replace: bool) -> None:
    """Rename a finished temporary file to `path`. With `replace=False` an existing `path` is never replaced,
    even one that another process created meanwhile (a hard link fails if the name exists)."""
    if replace:
        os.replace(tmp, path)
        return
    raced = _appeared(path, "file")
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise raced from None
    except OSError as e:  # a filesystem without hard links: check, then rename (a narrower window, not none)
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        if os.path.lexists(path):
            raise raced from None
        os.replace(tmp, path)
        return
    tmp.unlink()


def write_bytes_atomic(path: Path, data: bytes, *, replace: bool = True) -> Path:
    """Write a file so that readers see either the old content or all of the new (a full disk: `disk_full`);
    with `replace=False` an existing file (one that appeared while writing, too) is never replaced."""
    path = Path(path)
    tmp = _temp_sibling(path, "partial")
    try:
        with naming_full_disk(path), open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        with naming_full_disk(path):
            _place(tmp, path, replace=replace)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_json_atomic(path: Path, obj: Any, *, replace: bool = True) -> Path:
    return write_bytes_atomic(path, (json.dumps(obj, indent=2) + "\n").encode(), replace=replace)


@contextlib.contextmanager
def atomic_file(path: Path, *, replace: bool = True) -> Iterator[Path]:
    """Yield a temporary sibling path to write; on success it is renamed to `path` (never onto an existing
    file with `replace=False`)."""
    path = Path(os.path.abspath(path))
    tmp = path.with_name(f".{path.stem}.partial-{uuid.uuid4().hex[:8]}{path.suffix}")
    try:
        with naming_full_disk(path, written=tmp):
            yield tmp
            _place(tmp, path, replace=replace)
    finally:
        tmp.unlink(missing_ok=True)


def prepare_output_dir(path: Path, *, overwrite: bool, what: str) -> None:
    """Refuse to replace an existing `path` unless `overwrite` (checked before any work starts), and a `path`
    under a file (``FILE/out``: its folder could never be made)."""
    path = Path(path)
    _check_parents(path)
    _no_link(path)
    here = Path.cwd()
    if Path(os.path.abspath(path)) in (here, *here.parents):
        raise ArtifactError(f"{path} is the current folder (or contains it): an output folder is built beside its "
                            f"place and renamed into it; give a new folder name, e.g. {path}/out")
    if path.exists() and not path.is_dir():
        raise ArtifactError(f"{path} exists and is not a directory; choose another output path")
    if path.exists() and not overwrite and any(path.iterdir()):
        raise ArtifactError(f"{path} already exists; choose another output path or pass `overwrite` "
                            f"to replace the {what}")


def _no_link(path: Path) -> None:
    """An output is a real path: replacing a symbolic link's target (or a dangling one) is never what was meant."""
    if Path(path).is_symlink():
        raise ArtifactError(f"{path} is a symbolic link; give the path it points to (or a new one) as the output")


def _check_parents(path: Path) -> None:
    for parent in Path(path).absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise ArtifactError(f"{path}: {parent} is a file, not a folder, so nothing can be written under it; "
                                    f"choose another output path")
            return


def prepare_output_file(path: Path, *, overwrite: bool) -> Path:
    """Check a single-file output before any work starts: not a directory, not an existing file unless
    `overwrite`; creates its parent directory."""
    path = Path(path)
    _no_link(path)
    if path.is_dir():
        raise ArtifactError(f"{path} is a directory; give a file path")
    if path.exists() and not overwrite:
        raise ArtifactError(f"{path} already exists; choose another path or pass `overwrite` to replace it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ArtifactError(f"{path.parent} is not a directory; choose another output path") from None
    return path


@contextlib.contextmanager
def atomic_dir(path: Path, *, overwrite: bool = False, what: str = "artifact") -> Iterator[Path]:
    """Build a directory artifact in a temporary sibling and rename it into place at the end.

    If the body raises (or the process dies) nothing appears at `path`: readers never see half an
    artifact. An existing `path` is replaced only with `overwrite=True`.
    """
    path = Path(path)
    prepare_output_dir(path, overwrite=overwrite, what=what)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_sibling(path, "partial")
    tmp.mkdir()
    try:
        with naming_full_disk(path, written=tmp):  # also a writer's inside: name this output
            yield tmp
            _swap_in(tmp, path, overwrite=overwrite, what=what)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def publish(built: Path, path: Path, *, overwrite: bool = False) -> Path:
    """Rename a complete directory `built` to `path` (same filesystem), replacing it only with `overwrite`."""
    path = Path(path)
    prepare_output_dir(path, overwrite=overwrite, what="output")
    path.parent.mkdir(parents=True, exist_ok=True)
    _swap_in(Path(built), path, overwrite=overwrite, what="output")
    return path


def _swap_in(built: Path, path: Path, *, overwrite: bool, what: str) -> None:
    """Rename `built` to `path`. With `overwrite` an existing `path` is moved aside first and deleted after.
    Without it the target must still be absent: if another process created it while this one worked (two
    writers on one output), nothing is replaced and the error says so (a rename onto a non-empty directory
    fails, so the check cannot be raced)."""
    if overwrite and path.exists():
        old = _temp_sibling(path, "old")
        os.replace(path, old)
        os.replace(built, path)
        shutil.rmtree(old, ignore_errors=True)
        return
    raced = _appeared(path, what)
    if os.path.lexists(path) and not (path.is_dir() and not path.is_symlink() and not any(path.iterdir())):
        raise raced
    try:
        os.rename(built, path)  # onto nothing or an empty directory; never onto content
    except OSError as e:
        if e.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
            raise raced from None
        raise


def header(fmt: str, version: int) -> Header:
    """The header every gendef file starts with (manifests, config.json, tracks, safetensors metadata)."""
    return {"format": fmt, "format_version": version, "gendef_version": __version__}


MAX_JSON_BYTES = 1 << 30
"""No gendef JSON file is larger (1 GiB); a larger one is refused before it is parsed."""


class _NotJson(Exception):
    """NaN, Infinity or a number too large for a float: Python's json accepts them, JSON does not."""


def _no_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotJson(f"the number {text[:30]} is too large for a float")
    return value


def read_json(path: Path, *, fix: str, error: type[GendefError] = ArtifactError, allow_nan: bool = False) -> Any:
    """Parse a JSON file: the one JSON reader of gendef (manifests, config files, points, tracks, state).

    Every failure is one line, `error` (ArtifactError; a DataError or ConfigError for the files a user
    gives), naming `path` and ending with `fix`: a missing, unreadable or over-large file, a directory,
    bytes that are not UTF-8, invalid JSON, NaN / Infinity (not JSON) and numbers that overflow a float,
    integers of more than `sys.get_int_max_str_digits()` digits, and nesting deeper than Python can parse.
    With `allow_nan` NaN, Infinity and overflowing numbers are read as floats instead (for a reader that
    refuses non-finite values itself, with a message about the value). Parsing checks no field: that is the
    format's schema (`gendef_core.artifacts.schema`).
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_JSON_BYTES + 1)
    except FileNotFoundError:
        raise error(f"{path} is missing; {fix}") from None
    except IsADirectoryError:
        raise error(f"{path} is a directory, not a JSON file; {fix}") from None
    except OSError as e:
        raise error(f"{path} cannot be read ({e.strerror or e}); {fix}") from None
    if len(data) > MAX_JSON_BYTES:
        raise error(f"{path} is larger than {MAX_JSON_BYTES >> 30} GiB, more than any gendef JSON file; {fix}")
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")  # a byte-order mark is allowed (editors write one)
    except UnicodeDecodeError as e:
        raise error(f"{path} is not valid JSON (not UTF-8 text: byte 0x{data[e.start]:02x} at offset {e.start}); "
                    f"{fix}") from None
    try:
        if allow_nan:
            return json.loads(text)
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except json.JSONDecodeError as e:
        raise error(f"{path} is not valid JSON ({e}); {fix}") from None
    except _NotJson as e:
        raise error(f"{path} is not valid JSON ({e}); {fix}") from None
    except RecursionError:
        raise error(f"{path} is not valid JSON (nested too deeply to parse); {fix}") from None
    except ValueError:  # int(): "Exceeds the limit (4300 digits) for integer string conversion"
        raise error(f"{path} is not valid JSON (an integer has more than {sys.get_int_max_str_digits()} digits); "
                    f"{fix}") from None


def artifact_path(directory: Path, *names: str, fix: str) -> Path:
    """``directory / names[0] / names[1] …``: the one way to a file inside an artifact, checked before
    anything is opened or hashed (FORMATS.md, "Names and links").

    Each name (as read from a manifest, or gendef's own layout) must be a plain file name
    (`schema.is_plain_name`: no separator, not "." or "..", not hidden), and no entry on the way below
    `directory` may be a symbolic link (it could point outside the artifact). `directory` itself may be
    a link. Returns the path, which need not exist (the caller says what is missing).
    """
    p = Path(directory)
    for name in names:
        if not is_plain_name(name):
            raise ArtifactError(f"{p}: the name {show(name)} is not {PLAIN_NAME}; {fix}")
        p = p / name
        if p.is_symlink():
            raise ArtifactError(f"{p} is a symbolic link; gendef follows no link inside an artifact (it could "
                                f"point outside it): replace it with the file it points to")
    return p


Migration = Callable[[dict[str, Any]], dict[str, Any]]


def check_header(doc: Any, where: Path, *, fmt: str, version: int, what: str, hint: str,
                 migrations: Mapping[int, Migration] | None = None) -> dict[str, Any]:
    """Check the header of a parsed gendef file `where` (the reading side of `header`); every reader calls this.

    Refuses a document of another format (the message ends with `hint`), a `format_version` that is not a
    positive integer, and versions newer than `version` ("upgrade gendef"); migrates older ones one step at
    a time through ``migrations[v]`` (v -> v+1). Returns the document at `version`.
    """
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise ArtifactError(f"{where}: format {got!r} is not {fmt!r}; {hint}")
    v = doc.get("format_version")
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise ArtifactError(f"{where}: format_version must be a positive integer, got {v!r}")
    if v > version:
        raise ArtifactError(f"{where}: {what} format v{v} is newer than this gendef "
                            f"({__version__}) reads (v{version}); upgrade gendef")
    while v < version:
        step = (migrations or {}).get(v)
        if step is None:
            raise ArtifactError(f"{where}: no migration from {what} format v{v}; upgrade gendef")
        doc = step(doc)
        if doc.get("format_version") != v + 1:  # a migration goes exactly one version up, or we would loop
            raise RuntimeError(f"migration of {what} v{v} produced version {doc.get('format_version')!r}")
        v = v + 1
    return doc


def read_manifest(directory: Path, *, fmt: str, version: int, what: str, fix: str,
                  migrations: Mapping[int, Migration] | None = None) -> dict[str, Any]:
    """Read and version-check ``directory/manifest.json`` (`check_header`).

    Refuses a missing directory/manifest, another format, and versions newer than `version`
    ("upgrade gendef"); migrates older ones one step at a time through `migrations[v]` (v -> v+1).
    """
    directory = Path(directory)
    if not directory.exists():
        raise ArtifactError(f"{directory} does not exist; {fix}")
    if not directory.is_dir():
        raise ArtifactError(f"{directory} is not a directory; a {what} is a directory with a {MANIFEST}")
    manifest_path = artifact_path(directory, MANIFEST, fix=fix)
    if not manifest_path.is_file():
        raise ArtifactError(f"{directory} has no {MANIFEST}, so it is not a {what}; {fix}")
    return check_header(read_json(manifest_path, fix=fix), manifest_path, fmt=fmt, version=version, what=what,
                        hint=f"is {directory} a {what}?", migrations=migrations)


def read_format(directory: Path) -> str:
    """The `format` named by ``directory/manifest.json`` (e.g. to dispatch on it), without checking the rest."""
    where = artifact_path(Path(directory), MANIFEST, fix="re-create the artifact")
    manifest = read_json(where, fix="re-create the artifact")
    if not isinstance(manifest, dict):
        raise ArtifactError(f"{where} is not a gendef manifest (a JSON object with a 'format' field); "
                            f"re-create the artifact")
    fmt = manifest.get("format")
    if not isinstance(fmt, str):
        raise ArtifactError(f"{where} has no 'format' field, so it is not a gendef manifest; re-create the artifact")
    return fmt


def fps_to_json(fps: Fraction) -> list[int]:
    """A frame rate as stored in every gendef file: exact, ``[numerator, denominator]``."""
    return [fps.numerator, fps.denominator]


def fps_from_json(doc: Mapping[str, Any], where: Path, key: str = "fps") -> Fraction:
    """The frame rate ``doc[key]`` written by `fps_to_json`, refusing anything but two positive integers
    of at most `schema.MAX_FPS` frames per second."""
    value = require(doc, key, list, where)
    try:
        FPS(value, key)
    except Invalid as e:
        raise ArtifactError(f"{where}: {e.message()}") from None
    return Fraction(*value)


def require(manifest: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: Path) -> Any:
    """Fetch a manifest field, refusing a missing key or a value of the wrong JSON type."""
    if key not in manifest:
        raise ArtifactError(f"{where}: missing field {key!r}")
    value = manifest[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, (int, float))):
        raise ArtifactError(f"{where}: field {key!r} has the wrong type ({type(value).__name__})")
    return value


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_record(path: Path) -> FileRecord:
    return {"bytes": Path(path).stat().st_size, "sha256": sha256_file(path)}


def verify_files(directory: Path, records: Mapping[str, Any], *, fix: str) -> None:
    """Check every file listed in a manifest exists with its recorded size and sha256 (names and links
    checked first: `artifact_path`)."""
    for name, rec in records.items():
        p = artifact_path(directory, name, fix=fix)
        if not p.is_file():
            raise ArtifactError(f"{p} is missing; {fix}")
        size = p.stat().st_size
        if size != rec.get("bytes"):
            raise ArtifactError(f"{p} is truncated or altered ({size} bytes, manifest says "
                                f"{rec.get('bytes')}); {fix}")
        if sha256_file(p) != rec.get("sha256"):
            raise ArtifactError(f"{p} does not match its sha256 in {MANIFEST}; {fix}")
