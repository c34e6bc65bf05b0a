"""A tiny declarative checker for the JSON that gendef reads: field -> type and range (FORMATS.md).

A schema is built from the checks below (`integer`, `number`, `string`, `obj`, `mapping`, `list_of`, ...)
and applied once, right after parsing, by `validate`, which turns the first violation into one line naming
the file, the field and the fix::

    CLIP = obj({"num_frames": integer(1, 10**7), "seed": nullable(integer(MIN_SEED, MAX_SEED)), ...})
    validate(doc, CLIP, path, fix="re-create the clip")
    # {"num_frames": 0}   -> CLIP/manifest.json: num_frames must be an integer in 1..10000000, got 0; re-create the clip
    # {"seed": "abc"}     -> CLIP/manifest.json: field 'seed' has the wrong type (str), expected an integer in
    #                        -9223372036854775808..18446744073709551615 or null; re-create the clip

Objects are open: unknown keys are kept and not checked (readers ignore additive fields). JSON booleans
are never numbers here (Python's ``bool`` is an ``int``).

Each format declares its schema next to its reader (clip.py, dataset.py, checkpoint.py, ...); the checks
shared by several formats (header, file records, frame rates, plain names) are here.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gendef_core.errors import ArtifactError, GendefError

MAX_INT = 2**63 - 1
"""Upper bound of every count, size and step (what an int64 holds)."""
MIN_SEED, MAX_SEED = -(2**63), 2**64 - 1
"""The seeds `torch.Generator.manual_seed` takes."""
MAX_FPS = 1000
"""Frame rates are in (0, MAX_FPS] frames per second (what the video writer accepts)."""


MISSING = object()
"""The `value` of an `Invalid` for a required field that is absent."""


class Invalid(Exception):
    """A value that fails a check: ``at`` (the field, e.g. ``networks.canonical.bytes``) must be ``expected``.

    `wrong_type`: the value is not even of the right JSON type; `detail`: what inside it is wrong.
    """

    def __init__(self, at: str, expected: str, value: Any, *, wrong_type: bool = False, detail: str = "") -> None:
        super().__init__(at, expected)
        self.at, self.expected, self.value, self.wrong_type, self.detail = at, expected, value, wrong_type, detail

    def message(self) -> str:
        name = self.at or "the document"
        if self.value is MISSING:
            return f"missing field {name!r}"
        if self.detail:
            return f"{name} must be {self.expected}: {self.detail}"
        if self.wrong_type:
            return f"field {name!r} has the wrong type ({type(self.value).__name__}), expected {self.expected}"
        return f"{name} must be {self.expected}, got {show(self.value)}"


Check = Callable[[Any, str], None]
"""A check: ``check(value, at)`` returns if `value` (found at field `at`) is valid, else raises `Invalid`."""


def show(value: Any) -> str:
    """A short, safe rendering of a JSON value for a message (long containers by their size only)."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return str(value) if abs(value) < 10**30 else f"an integer of {value.bit_length()} bits"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, list | dict):
        if len(value) <= 8:  # small ones as they are, if short
            with contextlib.suppress(ValueError, TypeError, RecursionError):
                text = json.dumps(value)
                if len(text) <= 60:
                    return text
        return f"an object with {len(value)} keys" if isinstance(value, dict) else f"a list of {len(value)} items"
    return type(value).__name__


def field(at: str, key: object) -> str:
    """The name of field `key` (an object key or a list index) of the value at `at`."""
    if isinstance(key, int):
        return f"{at}[{key}]"
    if isinstance(key, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return f"{at}.{key}" if at else key
    return f"{at}[{show(key)}]"


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and (isinstance(v, int) or math.isfinite(v))


def anything() -> Check:
    def check(v: Any, at: str) -> None:
        return None
    return check


def integer(lo: int = 0, hi: int = MAX_INT) -> Check:
    """An integer in lo..hi (not a boolean, not 3.0); without `hi`, one an int64 holds."""
    expected = "an integer" if hi == MAX_INT else f"an integer in {lo}..{hi}"

    def check(v: Any, at: str) -> None:
        if not _is_int(v):
            raise Invalid(at, expected, v, wrong_type=True)
        if not lo <= v <= hi:
            raise Invalid(at, expected if hi != MAX_INT else f"at least {lo}" if v < lo else f"at most {hi}", v)
    return check


def number(lo: float = -math.inf, hi: float = math.inf) -> Check:
    """A finite number (integer or float, not a boolean) in [lo, hi]."""
    expected = "a finite number" + ("" if (lo, hi) == (-math.inf, math.inf) else f" in [{lo:g}, {hi:g}]")

    def check(v: Any, at: str) -> None:
        if not isinstance(v, int | float) or isinstance(v, bool):
            raise Invalid(at, expected, v, wrong_type=True)
        if not (_is_number(v) and lo <= v <= hi):
            raise Invalid(at, expected, v)
    return check


def boolean() -> Check:
    def check(v: Any, at: str) -> None:
        if not isinstance(v, bool):
            raise Invalid(at, "true or false", v, wrong_type=True)
    return check


def string(pattern: str | None = None, *, what: str | None = None, max_len: int = 1 << 16) -> Check:
    """A string (matching the regular expression `pattern`, described as `what`)."""
    compiled = re.compile(pattern) if pattern is not None else None
    expected = what or ("a string" if compiled is None else f"a string matching {pattern}")

    def check(v: Any, at: str) -> None:
        if not isinstance(v, str):
            raise Invalid(at, expected, v, wrong_type=True)
        if not (len(v) <= max_len and (compiled is None or compiled.fullmatch(v))):
            raise Invalid(at, expected, v)
    return check


def one_of(*values: object) -> Check:
    def check(v: Any, at: str) -> None:
        if not any(type(v) is type(x) and v == x for x in values):
            raise Invalid(at, "one of " + ", ".join(json.dumps(x) for x in values), v)
    return check


def nullable(inner: Check) -> Check:
    """`inner` or null."""
    def check(v: Any, at: str) -> None:
        if v is None:
            return
        try:
            inner(v, at)
        except Invalid as e:
            if e.at != at:  # a field inside the value is wrong: say that
                raise
            raise Invalid(at, f"{e.expected} or null", v, wrong_type=e.wrong_type) from None
    return check


def list_of(item: Check, *, min_len: int = 0, max_len: int = MAX_INT, length: int | None = None) -> Check:
    """A list whose every item passes `item` (of exactly `length` items, or min_len..max_len)."""
    lo, hi = (length, length) if length is not None else (min_len, max_len)

    def check(v: Any, at: str) -> None:
        if not isinstance(v, list):
            raise Invalid(at, "a list", v, wrong_type=True)
        if not lo <= len(v) <= hi:
            raise Invalid(at, f"a list of {lo} items" if lo == hi else f"a list of {lo}..{hi} items", v)
        for i, x in enumerate(v):
            item(x, field(at, i))
    return check


def array(shape: tuple[int, ...], leaf: Check) -> Check:
    """Nested lists of exactly `shape` (``[T][N][2]``) whose leaves pass `leaf`."""
    if not shape:
        return leaf
    inner = array(shape[1:], leaf)
    return list_of(inner, length=shape[0])


def obj(required: Mapping[str, Check], optional: Mapping[str, Check] | None = None) -> Check:
    """An object with the `required` fields, and the `optional` ones if present; other keys are allowed
    (and unchecked)."""
    optional = dict(optional or {})

    def check(v: Any, at: str) -> None:
        if not isinstance(v, dict):
            raise Invalid(at, "an object", v, wrong_type=True)
        for key, inner in required.items():
            if key not in v:
                raise Invalid(field(at, key), "present", MISSING)
            inner(v[key], field(at, key))
        for key, inner in optional.items():
            if key in v:
                inner(v[key], field(at, key))
    return check


def mapping(key: Check, value: Check, *, min_len: int = 0) -> Check:
    """An object with any keys, each passing `key`, and values passing `value`."""
    def check(v: Any, at: str) -> None:
        if not isinstance(v, dict):
            raise Invalid(at, "an object", v, wrong_type=True)
        if len(v) < min_len:
            raise Invalid(at, f"an object with at least {min_len} entr{'y' if min_len == 1 else 'ies'}", v)
        for k, x in v.items():
            key(k, f"{at or 'the document'} key")
            value(x, field(at, k))
    return check


def described(inner: Check, expected: str) -> Check:
    """`inner`, its failures described as the value's as a whole: "`at` must be `expected`: <what failed>"."""
    def check(v: Any, at: str) -> None:
        try:
            inner(v, at)
        except Invalid as e:
            raise Invalid(at, expected, v, detail=e.message()) from None
    return check


def validate(doc: Any, schema: Check, where: Path, *, fix: str, error: type[GendefError] = ArtifactError) -> Any:
    """Check `doc` (parsed from the file `where`) against `schema`; returns `doc`, or raises `error`:
    ``"{where}: {field} must be {what}, got {value}; {fix}"``."""
    try:
        schema(doc, "")
    except Invalid as e:
        raise error(f"{where}: {e.message()}; {fix}") from None
    return doc


# ----------------------------------------------------------------------------------- shared by several formats

PLAIN_NAME = "a plain file name inside the artifact (no '/' or '\\', not '.' or '..', not starting with '.')"


def is_plain_name(name: object) -> bool:
    """Whether `name` (read from a manifest) names an entry directly inside its artifact's directory:
    a non-empty string without path separators, NUL or control characters, not starting with "." (so
    neither "." nor "..", nor a hidden temporary), at most 255 characters (FORMATS.md, "Names and links")."""
    return (isinstance(name, str) and 0 < len(name) <= 255 and not name.startswith(".")
            and not any(c in "/\\" or ord(c) < 32 or ord(c) == 127 for c in name))


def plain_name() -> Check:
    def check(v: Any, at: str) -> None:
        if not is_plain_name(v):
            raise Invalid(at, PLAIN_NAME, v)
    return check


SHA256 = string(r"[0-9a-f]{64}", what="a sha256 (64 lowercase hex digits)")
FILE_RECORD = obj({"bytes": integer(0), "sha256": SHA256})
"""A file's record in a manifest (`common.file_record`): ``{"bytes": int, "sha256": hex}``."""


def _fps(v: Any, at: str) -> None:
    if not isinstance(v, list):
        raise Invalid(at, "[numerator, denominator] > 0", v, wrong_type=True)
    if not (len(v) == 2 and all(_is_int(x) and 0 < x <= MAX_INT for x in v)):
        raise Invalid(at, "[numerator, denominator] > 0", v)
    if v[0] > MAX_FPS * v[1]:
        raise Invalid(at, f"at most {MAX_FPS} frames per second", v)


FPS: Check = _fps
"""A frame rate as stored (`common.fps_to_json`): ``[numerator, denominator]``, in (0, 1000] fps."""

HEADER = {"format": string(), "format_version": integer(1)}
"""The fields of the header every gendef file starts with; `gendef_version` is informational (optional)."""
HEADER_OPTIONAL = {"gendef_version": string(max_len=200)}
