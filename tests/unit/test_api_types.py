"""The facade is typed: no `typing.Any` in what `gendef_core.api` exports (issue on code structure).

Every function in `api.__all__` has its parameter and return annotations resolved (`typing.get_type_hints`);
each annotation is walked through its generic arguments (unions, `list[...]`, `Callable[...]`, ...) and into
every TypedDict and dataclass it names (their fields, recursively), and must not contain `Any` anywhere.
TypedDicts and dataclasses that `api` exports are checked the same way.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from typing import Any, TypedDict

import pytest

from gendef_core import api


def _is_typeddict(tp: object) -> bool:
    return isinstance(tp, type) and typing.is_typeddict(tp)


def _any_paths(tp: object, where: str, seen: set[int]) -> list[str]:
    """Where `Any` occurs in the annotation `tp` (named `where`), walking generic arguments and the fields of
    TypedDicts and dataclasses (each class once)."""
    if tp is Any:
        return [where]
    if _is_typeddict(tp) or (isinstance(tp, type) and dataclasses.is_dataclass(tp)):
        if id(tp) in seen:
            return []
        seen.add(id(tp))
        assert isinstance(tp, type)
        hints = typing.get_type_hints(tp)
        return [p for name, hint in hints.items() for p in _any_paths(hint, f"{where} -> {tp.__name__}.{name}", seen)]
    found = []
    for i, arg in enumerate(typing.get_args(tp)):
        if isinstance(arg, list):  # the parameter list of Callable[[...], R]
            found += [p for j, a in enumerate(arg) for p in _any_paths(a, f"{where}[{i}][{j}]", seen)]
        else:
            found += _any_paths(arg, f"{where}[{i}]", seen)
    return found


def _exported() -> list[tuple[str, object]]:
    return [(name, getattr(api, name)) for name in api.__all__]


def _hints(name: str, obj: object) -> dict[str, object]:
    """A function's annotations by parameter (and "return"); for an exported type or type alias, itself."""
    if inspect.isfunction(obj):
        return dict(typing.get_type_hints(obj))
    assert isinstance(obj, type) or typing.get_args(obj), f"api.{name} is neither a function nor a type"
    return {"": obj}


@pytest.mark.parametrize(("name", "obj"), _exported(), ids=[n for n, _ in _exported()])
def test_no_any_in_the_public_signatures(name: str, obj: object) -> None:
    hints = _hints(name, obj)
    if inspect.isfunction(obj):  # every parameter and the return value are annotated
        params = [p for p in inspect.signature(obj).parameters if p not in ("self",)]
        assert set(params) | {"return"} <= set(hints), f"api.{name}: unannotated {set(params) - set(hints)}"
    found = [p for key, hint in hints.items() for p in _any_paths(hint, f"{name}({key})" if key else name, set())]
    assert not found, f"typing.Any in api.{name}:\n" + "\n".join(found)


def test_the_report_types_are_exported() -> None:
    """The TypedDicts and dataclasses that the facade's functions take or return (at the top level, or as a
    member of a union) are importable from the facade itself; the configs are `gendef_core.config`'s."""
    used: set[type] = set()
    for _, obj in _exported():
        if inspect.isfunction(obj):
            for hint in typing.get_type_hints(obj).values():
                used |= {t for t in (hint, *typing.get_args(hint)) if _is_typeddict(t)
                         or (isinstance(t, type) and dataclasses.is_dataclass(t)
                             and t.__module__.startswith("gendef_core.") and t.__module__ != "gendef_core.config")}
    missing = sorted(t.__name__ for t in used if getattr(api, t.__name__, None) is not t)
    assert not missing, f"used by api functions but not exported by api: {missing}"


def test_tracks_evaluation_names_every_tapvid_metric() -> None:
    """`TapVidScores` spells out the keys `tapvid_metrics` returns (evaluate_tracks casts its result to it)."""
    from gendef_core.metrics.tapvid import METRIC_NAMES

    assert list(typing.get_type_hints(api.TapVidScores)) == list(METRIC_NAMES)
    assert set(typing.get_type_hints(api.TracksEvaluation)) == {*METRIC_NAMES, "tracks", "data", "video",
                                                                 "query_mode", "num_points", "num_frames"}


class _Inner(TypedDict):
    values: dict[str, Any]


class _Outer(TypedDict):
    ok: int
    inner: list[_Inner]


@dataclasses.dataclass
class _Holder:
    outer: _Outer | None


def test_the_walk_finds_any_in_nested_fields() -> None:
    def f(x: int, cb: typing.Callable[[_Holder], None]) -> tuple[str, ...]:
        return ()

    hints = typing.get_type_hints(f)
    assert [p for k, h in hints.items() for p in _any_paths(h, k, set())] == [
        "cb[0][0] -> _Holder.outer[0] -> _Outer.inner[0] -> _Inner.values[1]"]
    assert _any_paths(dict[str, int], "ok", set()) == []
