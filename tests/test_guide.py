"""README's "User guide" is examples/guide.sh, and it runs as written in an empty folder (issue 15).

README is what runs: every ```bash block and every `$ ` command of the guide section appears verbatim, in
order, in examples/guide.sh, and the script has no other commands. Running the script, every output README
shows appears in what it prints, in order, with numbers masked (timings, losses and speeds vary); lines
README leaves out (stderr summaries, `...`) are allowed. Nothing here depends on timing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "examples" / "guide.sh"
# lines of guide.sh that are not README commands: the shebang, the strict mode, the heredoc around the Python block
SCRIPT_ONLY = {"#!/usr/bin/env bash", "set -euo pipefail", "python - <<'EOF'", "EOF"}
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```\s*$", re.S | re.M)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
_TAG = re.compile(r"\s+\((?:stdout|stderr)\)\s*$")


def guide_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("\n## User guide\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else len(text)]


def parse_guide() -> tuple[list[str], list[str], list[Any]]:
    """(commands: bash/python blocks and `$ ` lines; expected output lines; expected JSON documents), in order.

    ```text blocks are synopses or file contents, not run."""
    commands: list[str] = []
    lines: list[str] = []
    docs: list[Any] = []
    for lang, body in _FENCE.findall(guide_section()):
        body = body.rstrip("\n")
        if lang in ("bash", "sh", "python"):
            commands.append(body)
        elif lang == "json":
            docs.append(json.loads(body))
        elif lang == "":
            for line in body.splitlines():
                if line.startswith("$ "):
                    commands.append(line[2:])
                elif line.strip() and line.strip() != "...":
                    lines.append(_TAG.sub("", line))
    return commands, lines, docs


def normalise(line: str) -> str:
    return " ".join(_NUMBER.sub("N", line).split())


def json_documents(output: str) -> list[Any]:
    """The multi-line JSON documents (`--json` output: `{` ... `}` at column 0) in the output, in order."""
    docs, current = [], None
    for line in output.splitlines():
        if current is None and line == "{":
            current = [line]
        elif current is not None:
            current.append(line)
            if line == "}":
                docs.append(json.loads("\n".join(current)))
                current = None
    return docs


def json_matches(expected: Any, actual: Any) -> bool:
    """Same structure and strings; any number for a number; a list ending in "..." matches any longer list."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and expected.keys() == actual.keys() and all(
            json_matches(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return False
        if expected and expected[-1] == "...":
            return len(actual) >= len(expected) - 1 and all(map(json_matches, expected[:-1], actual))
        return len(actual) == len(expected) and all(map(json_matches, expected, actual))
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        return isinstance(actual, (int, float)) and not isinstance(actual, bool)
    return bool(expected == actual)


def test_readme_guide_is_the_script() -> None:
    commands, lines, docs = parse_guide()
    assert len(commands) >= 10 and lines and docs
    script = GUIDE.read_text()
    pos, spans = 0, []
    for cmd in commands:
        i = script.find(cmd, pos)
        assert i >= 0, f"README's guide command is not in examples/guide.sh (after the previous one):\n{cmd}"
        spans.append((i, i + len(cmd)))
        pos = i + len(cmd)
    starts, ends = [0] + [e for _, e in spans], [s for s, _ in spans] + [len(script)]
    rest = "".join(script[a:b] for a, b in zip(starts, ends, strict=True))   # guide.sh outside the README commands
    extra = [line for line in rest.splitlines()
             if line.strip() and not line.lstrip().startswith("#") and line.strip() not in SCRIPT_ONLY]
    assert not extra, f"examples/guide.sh runs commands README's guide does not show: {extra}"
    assert "set -euo pipefail" in script.splitlines()[:6], "examples/guide.sh must stop at the first failing command"


def test_json_matching_rules() -> None:
    assert json_matches({"a": 1, "b": ["x", "..."]}, {"a": 2.5, "b": ["x", "y", "z"]})
    assert not json_matches({"a": 1}, {"a": 1, "b": 2})
    assert not json_matches({"b": ["x", "..."]}, {"b": ["y"]})
    assert not json_matches({"a": "clip"}, {"a": "clip2"})
    assert normalise("step=5  kimg=0.02  time_s=1.4e-05 (x)") == "step=N kimg=N time_s=N (x)"


@pytest.mark.slow
def test_guide_runs_in_an_empty_folder(tmp_path: Path) -> None:
    bin_dir = str(Path(sys.executable).parent)                 # the venv's gendef and python
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""), "OMP_NUM_THREADS": "1",
           "PYTHONUNBUFFERED": "1", "CI": "1", "GENDEF_CACHE": str(tmp_path / "cache")}
    env.pop("GENDEF_DEBUG", None)
    work = tmp_path / "guide"
    work.mkdir()
    # one stream, as on a terminal: stdout and stderr interleave in the order README shows them
    r = subprocess.run(["bash", str(GUIDE)], cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    out = r.stdout
    assert r.returncode == 0, out[-3000:]

    _, lines, docs = parse_guide()
    actual = [normalise(line) for line in out.splitlines()]
    i = 0
    for want in lines:
        w = normalise(want)
        while i < len(actual) and actual[i] != w:
            i += 1
        assert i < len(actual), f"README shows {want!r} but the guide does not print it there; output:\n{out[-4000:]}"
        i += 1
    printed = json_documents(out)
    j = 0
    for want_doc in docs:
        while j < len(printed) and not json_matches(want_doc, printed[j]):
            j += 1
        assert j < len(printed), f"README shows {want_doc} but the guide prints no such JSON there"
        j += 1

    # the inputs the guide draws, and what the applications make of them
    tracks = json.loads((work / "tracks.json").read_text())
    assert (tracks["num_frames"], tracks["num_points"]) == (64, 3)
    assert tracks["canonical_points"] == [[16.0, 16.0], [40.5, 22.0], [60.0, 60.0]]
    assert (work / "tracks.tapvid.npz").is_file() and (work / "tracks.mp4").is_file()
    assert (work / "clip-masks" / "00063.png").is_file() and (work / "seg.mp4").is_file()
    for clip in ("clip", "clip-moved", "clip-edited", "clouds0", "clip2", "many/000003"):
        assert (work / clip / "manifest.json").is_file(), clip
    # the ground truth's query points, tracked on its exact clip: eval-tracks scores them perfectly
    assert "average_jaccard 1.0000  average_pts_within_thresh 1.0000  occlusion_accuracy 1.0000" in out
