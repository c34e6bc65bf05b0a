"""Helpers shared by every artifact: atomic writes, manifests, version checks, file digests."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, ForwardRef, TypeAlias, TypedDict

from gendef_core import __version__
from gendef_core.errors import ArtifactError

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
    # Hidden, unique and in the same directory, so the final rename is atomic (same filesystem).
    return path.with_name(f".{path.name}.{tag}-{uuid.uuid4().hex[:8]}")


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write a file so that readers see either the old content or all of the new."""
    path = Path(path)
    tmp = _temp_sibling(path, "partial")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_json_atomic(path: Path, obj: Any) -> Path:
    return write_bytes_atomic(path, (json.dumps(obj, indent=2) + "\n").encode())


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling path to write; on success it is renamed to `path`."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.partial-{uuid.uuid4().hex[:8]}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def prepare_output_dir(path: Path, *, overwrite: bool, what: str) -> None:
    """Refuse to replace an existing `path` unless `overwrite` (checked before any work starts)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ArtifactError(f"{path} exists and is not a directory; choose another output path")
    if path.exists() and not overwrite and any(path.iterdir()):
        raise ArtifactError(f"{path} already exists; choose another output path or pass `overwrite` "
                            f"to replace the {what}")


def prepare_output_file(path: Path, *, overwrite: bool) -> Path:
    """Check a single-file output before any work starts: not a directory, not an existing file unless
    `overwrite`; creates its parent directory."""
    path = Path(path)
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
        yield tmp
        _swap_in(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def publish(built: Path, path: Path, *, overwrite: bool = False) -> Path:
    """Rename a complete directory `built` to `path` (same filesystem), replacing it only with `overwrite`."""
    path = Path(path)
    prepare_output_dir(path, overwrite=overwrite, what="output")
    path.parent.mkdir(parents=True, exist_ok=True)
    _swap_in(Path(built), path)
    return path


def _swap_in(built: Path, path: Path) -> None:
    """Rename `built` to `path`; an existing `path` is moved aside first and deleted after."""
    if path.exists():
        old = _temp_sibling(path, "old")
        os.replace(path, old)
        os.replace(built, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(built, path)


def header(fmt: str, version: int) -> Header:
    """The header every gendef file starts with (manifests, config.json, tracks, safetensors metadata)."""
    return {"format": fmt, "format_version": version, "gendef_version": __version__}


def read_json(path: Path, *, fix: str) -> Any:
    """Parse a JSON file, turning any failure into a one-line ArtifactError that says `fix`."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ArtifactError(f"{path} is missing; {fix}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ArtifactError(f"{path} is not valid JSON ({e}); {fix}") from None


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
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise ArtifactError(f"{directory} has no {MANIFEST}, so it is not a {what}; {fix}")
    return check_header(read_json(manifest_path, fix=fix), manifest_path, fmt=fmt, version=version, what=what,
                        hint=f"is {directory} a {what}?", migrations=migrations)


def read_format(directory: Path) -> str:
    """The `format` named by ``directory/manifest.json`` (e.g. to dispatch on it), without checking the rest."""
    where = Path(directory) / MANIFEST
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
    """The frame rate ``doc[key]`` written by `fps_to_json`, refusing anything but two positive integers."""
    value = require(doc, key, list, where)
    if len(value) != 2 or not all(isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in value):
        raise ArtifactError(f"{where}: {key} must be [numerator, denominator] > 0, got {value!r}")
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
    """Check every file listed in a manifest exists with its recorded size and sha256."""
    for name, rec in records.items():
        p = Path(directory) / name
        if not p.is_file():
            raise ArtifactError(f"{p} is missing; {fix}")
        size = p.stat().st_size
        if size != rec.get("bytes"):
            raise ArtifactError(f"{p} is truncated or altered ({size} bytes, manifest says "
                                f"{rec.get('bytes')}); {fix}")
        if sha256_file(p) != rec.get("sha256"):
            raise ArtifactError(f"{p} does not match its sha256 in {MANIFEST}; {fix}")
