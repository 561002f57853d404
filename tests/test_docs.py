"""The documentation is tested like code: links resolve, examples run, live commands are marked.

Conventions for fenced code blocks in README.md and docs/*.md (the tests below enforce them):

* ```` ```python ```` blocks run offline, each in a fresh interpreter from the repository root.
  They must at least import and synthesize (``app.synth()``); they are marked ``slow``.
* ```` ```bash ```` blocks hold only commands this suite can vouch for: either commands it runs
  here (``eks-gpu-sharing synth|check --config ... --out ...``, with ``--out`` redirected to a
  temporary folder) or commands listed in ``EXERCISED_ELSEWHERE`` (``make synth``, ``make test``:
  the CI runs them on every change).
* ```` ```console ```` blocks are commands that need a live cluster or an AWS account. They are
  never run, and the nearest non-blank line above the fence must say so with ``LIVE_MARKER``:
  a parenthesis starting with "needs" that says "live", e.g. "(needs a live cluster)" or
  "(needs a live AWS account)".
* Anything else is data or sample output and must say which (``yaml``, ``json``, ``toml``,
  ``text``, ``mermaid``, ``diff``); a fence without an info string fails.

Relative links to project files must resolve; a ``#fragment`` into a Markdown file must name one
of its headings (GitHub's anchor rules).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
CONTRIBUTING = ROOT / "CONTRIBUTING.md"
#: The decision page opens the guide; a CTO reads it in five minutes.
DECISION_PAGE = DOCS / "gpu-sharing-on-eks.md"
DECISION_PAGE_MAX_WORDS = 1200

#: Info strings allowed on fenced code blocks.
RUNNABLE_PYTHON = "python"
RUNNABLE_SHELL = "bash"
LIVE_SHELL = "console"
DATA_LANGUAGES = frozenset({"yaml", "json", "toml", "text", "mermaid", "diff"})
KNOWN_LANGUAGES = DATA_LANGUAGES | {RUNNABLE_PYTHON, RUNNABLE_SHELL, LIVE_SHELL}

#: A `console` block must sit right after a line matching this: a parenthesis that starts with
#: "needs" and says "live", e.g. "(needs a live cluster)" or "(needs a live AWS account)".
LIVE_MARKER = re.compile(r"\(needs\b[^)]*\blive\b[^)]*\)")

#: Commands the CI runs on every change (.ci/run -> `make test`; the Makefile's `synth` target
#: runs `cdk synth` and `cdk8s synth`, which the test suite also exercises). A `bash` block may
#: show them verbatim without this file running them again.
EXERCISED_ELSEWHERE = frozenset(
    {
        "make synth",
        "make test",
        "make cdk-synth",
        "make cdk8s-synth",
        "cdk8s synth",
        # tests/test_simulation.py runs it with --quick (the full run takes minutes).
        ".venv/bin/python scripts/benchmark_simulation.py --runs 3 --build",
        # tests/test_cheapest_fleet.py runs it with --quick.
        ".venv/bin/python scripts/benchmark_simulation.py --shapes",
        # tests/test_dra.py runs it with --quick.
        ".venv/bin/python scripts/benchmark_simulation.py --backends --runs 3",
        # tests/test_simulate_workloads.py runs it with --quick.
        ".venv/bin/python scripts/benchmark_workloads.py",
        # tests/test_wheel.py builds the wheel the same way (into a temporary folder).
        ".venv/bin/uv build --wheel --out-dir dist .",
    }
)

#: The `eks-gpu-sharing` subcommands this file runs for real (output redirected to a tmp dir).
RUNNABLE_CLI_COMMANDS = frozenset({"synth", "check", "simulate", "estimate", "preflight"})

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_LINK = re.compile(r"(?<!!)\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
_IMAGE = re.compile(r"!\[[^\]]*\]\((?P<target>[^)\s]+)\)")
_HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<title>.+?)\s*#*\s*$")


def _documents() -> list[Path]:
    documents = sorted(DOCS.glob("*.md"))
    if README.exists():  # the lead writes README.md last; skip it until it exists
        documents.insert(0, README)
    if CONTRIBUTING.exists():
        documents.append(CONTRIBUTING)
    return documents


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@dataclass(frozen=True)
class Block:
    """A fenced code block of a Markdown document."""

    path: Path
    line: int  # 1-based line of the opening fence
    language: str
    body: str
    preceding: str  # the nearest non-blank line above the fence

    @property
    def where(self) -> str:
        return f"{_rel(self.path)}:{self.line}"


def _blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        fence = match["fence"]
        language = match["info"].strip().split(" ")[0].lower() if match["info"].strip() else ""
        preceding = next((text for text in reversed(lines[:index]) if text.strip()), "")
        body: list[str] = []
        end = index + 1
        while end < len(lines) and not re.match(
            rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$", lines[end]
        ):
            body.append(lines[end])
            end += 1
        if end == len(lines):
            raise AssertionError(f"{_rel(path)}:{index + 1}: code fence is never closed")
        blocks.append(Block(path, index + 1, language, "\n".join(body) + "\n", preceding))
        index = end + 1
    return blocks


def _all_blocks(language: str | None = None) -> list[Block]:
    return [
        block
        for path in _documents()
        for block in _blocks(path)
        if language is None or block.language == language
    ]


def _prose_lines(path: Path) -> list[tuple[int, str]]:
    """Lines outside fenced code blocks, with their 1-based numbers, inline code removed."""
    fenced: set[int] = set()
    for block in _blocks(path):
        fenced.update(range(block.line, block.line + block.body.count("\n") + 2))
    result = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if number not in fenced:
            result.append((number, re.sub(r"`[^`]*`", "", text)))
    return result


def github_anchor(title: str) -> str:
    """The anchor GitHub gives a heading: lowercase, punctuation dropped, spaces to '-'."""
    title = re.sub(r"`([^`]*)`", r"\1", title)
    title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title)  # links keep their text
    title = title.strip().lower()
    title = re.sub(r"[^\w\- ]", "", title)
    return title.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    anchors: set[str] = set()
    counts: dict[str, int] = {}
    for _, text in _heading_lines(path):
        anchor = github_anchor(text)
        seen = counts.get(anchor, 0)
        anchors.add(anchor if seen == 0 else f"{anchor}-{seen}")
        counts[anchor] = seen + 1
    return anchors


def _heading_lines(path: Path) -> list[tuple[int, str]]:
    fenced: set[int] = set()
    for block in _blocks(path):
        fenced.update(range(block.line, block.line + block.body.count("\n") + 2))
    headings = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = _HEADING.match(text)
        if match and number not in fenced:
            headings.append((number, match["title"]))
    return headings


def _links(path: Path) -> list[tuple[int, str]]:
    links = []
    for number, text in _prose_lines(path):
        for match in list(_LINK.finditer(text)) + list(_IMAGE.finditer(text)):
            links.append((number, match["target"]))
    return links


# -- the documents exist and are reachable --------------------------------------------------------


def test_guide_documents_exist() -> None:
    for name in ("gpu-sharing-on-eks.md", "runbook.md", "reference.md", "configuration.md"):
        assert (DOCS / name).is_file(), f"docs/{name} is missing"


def prose_words(path: Path) -> int:
    """Words a reader reads: prose and tables, without code blocks, link targets or markup."""
    text = "\n".join(line for _, line in _prose_lines(path))
    text = re.sub(r"\]\([^)]*\)", "]", text)  # [text](target) keeps its text
    text = re.sub(r"^\[[^\]]+\]:\s+\S+.*$", "", text, flags=re.MULTILINE)  # link definitions
    return len(re.findall(r"[A-Za-z0-9$][\w$.,'%/-]*", text))


def test_the_decision_page_opens_the_guide_and_reads_in_five_minutes() -> None:
    """At most 1,200 words; the README's table of documents lists it first; it links the
    runbook and the reference, the two other documents of the guide."""
    words = prose_words(DECISION_PAGE)
    assert words <= DECISION_PAGE_MAX_WORDS, f"{words} words"
    assert prose_words(DOCS / "runbook.md") > words  # the counter counts (not a constant 0)
    readme_docs = [t for _, t in _links(README) if t.startswith("docs/") and t.endswith(".md")]
    assert readme_docs[0] == "docs/gpu-sharing-on-eks.md", readme_docs
    targets = {t.split("#")[0] for _, t in _links(DECISION_PAGE)}
    assert {"runbook.md", "reference.md"} <= targets


def test_helpers_follow_github_anchor_rules() -> None:
    assert github_anchor("Time-slicing vs MPS vs MIG") == "time-slicing-vs-mps-vs-mig"
    assert github_anchor("`GpuPool`") == "gpupool"
    assert github_anchor("What a pod gets (and what it does not)") == (
        "what-a-pod-gets-and-what-it-does-not"
    )
    assert github_anchor("1. Karpenter: why it over-provisions") == (
        "1-karpenter-why-it-over-provisions"
    )


# -- (1) links ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", _documents(), ids=_rel)
def test_relative_links_resolve(path: Path) -> None:
    broken = []
    for number, target in _links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        file_part, _, fragment = target.partition("#")
        destination = (path.parent / file_part).resolve() if file_part else path
        if not destination.exists():
            broken.append(f"{_rel(path)}:{number}: {target} -> no such file")
            continue
        if ROOT not in destination.parents and destination != ROOT:
            broken.append(f"{_rel(path)}:{number}: {target} points outside the repository")
            continue
        if fragment and destination.suffix == ".md" and fragment not in _anchors(destination):
            broken.append(
                f"{_rel(path)}:{number}: {target} -> no heading with anchor #{fragment} in "
                f"{_rel(destination)}"
            )
    assert not broken, "broken links:\n" + "\n".join(broken)


@pytest.mark.parametrize("path", _documents(), ids=_rel)
def test_headings_are_unique(path: Path) -> None:
    anchors = [github_anchor(title) for _, title in _heading_lines(path)]
    duplicates = sorted({a for a in anchors if anchors.count(a) > 1})
    assert not duplicates, f"{_rel(path)}: headings with the same anchor: {duplicates}"


# -- code block conventions ---------------------------------------------------------------------


@pytest.mark.parametrize("path", _documents(), ids=_rel)
def test_code_blocks_declare_a_known_language(path: Path) -> None:
    bad = [
        f"{block.where}: ```{block.language or '(no info string)'}"
        for block in _blocks(path)
        if block.language not in KNOWN_LANGUAGES
    ]
    assert not bad, (
        "code blocks must be python or bash (run offline by tests/test_docs.py), console "
        "(needs a live cluster) or data ("
        + ", ".join(sorted(DATA_LANGUAGES))
        + "):\n"
        + "\n".join(bad)
    )


# -- (4) live blocks are marked -----------------------------------------------------------------


def test_console_blocks_are_marked_as_live() -> None:
    unmarked = [
        f"{block.where}: the line above is {block.preceding.strip()!r}"
        for block in _all_blocks(LIVE_SHELL)
        if not LIVE_MARKER.search(block.preceding)
    ]
    assert not unmarked, (
        "a ```console block needs a live cluster or AWS account: put a line containing "
        "'(needs a live cluster)' or '(needs a live AWS account)' right above it:\n"
        + "\n".join(unmarked)
    )


# -- (3) bash blocks only hold commands the suite vouches for ------------------------------------


def _commands(body: str) -> list[str]:
    """Split a shell block into commands: comments dropped, continuations joined."""
    commands: list[str] = []
    current = ""
    for raw in body.splitlines():
        line = raw.rstrip()
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        commands.append(" ".join(re.sub(r"\s+#.*$", "", current).split()))
        current = ""
    if current:
        commands.append(" ".join(current.split()))
    return commands


def _cli_args(command: str) -> list[str] | None:
    """The arguments of an `eks-gpu-sharing synth|check` command, or None for other commands."""
    words = shlex.split(command)
    if len(words) < 2 or words[0] != "eks-gpu-sharing" or words[1] not in RUNNABLE_CLI_COMMANDS:
        return None
    if any(char in command for char in "|;&<>$`"):
        return None
    return words[1:]


def _check_bash_command(command: str) -> str | None:
    """None if ``command`` is allowed in a ```bash block, else why not."""
    if " ".join(command.split()) in EXERCISED_ELSEWHERE:
        return None
    if _cli_args(command) is not None:
        return None
    return (
        f"{command!r} is neither run by tests/test_docs.py nor exercised elsewhere in the suite "
        f"({', '.join(sorted(EXERCISED_ELSEWHERE))}); mark the block ```console with "
        "'(needs a live cluster)' on the line above, or make it runnable offline"
    )


def test_bash_blocks_hold_only_vouched_for_commands() -> None:
    problems = []
    for block in _all_blocks(RUNNABLE_SHELL):
        commands = _commands(block.body)
        if not commands:
            problems.append(f"{block.where}: empty bash block")
        for command in commands:
            reason = _check_bash_command(command)
            if reason:
                problems.append(f"{block.where}: {reason}")
    assert not problems, "\n".join(problems)


def _subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    # The package lives under constructs/ (installed editable by `make setup`); make it
    # importable for a bare checkout too.
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "constructs"), *filter(None, [env.get("PYTHONPATH")])]
    )
    env.setdefault("CDK_DISABLE_VERSION_CHECK", "true")
    env.pop("CDK_OUTDIR", None)
    env.pop("CDK8S_OUTDIR", None)
    return env


_CLI_COMMANDS = [
    pytest.param(block, command, id=f"{block.where}:{command.split()[1]}")
    for block in _all_blocks(RUNNABLE_SHELL)
    for command in _commands(block.body)
    if _cli_args(command) is not None
]


@pytest.mark.slow
@pytest.mark.parametrize(("block", "command"), _CLI_COMMANDS)
def test_documented_cli_commands_run(block: Block, command: str, tmp_path: Path) -> None:
    args = _cli_args(command)
    assert args is not None
    out = tmp_path / "manifests"
    if "--out" in args:
        args[args.index("--out") + 1] = str(out)
    elif args[0] not in ("simulate", "estimate", "preflight"):  # they write no manifests
        args += ["--out", str(out)]
    for option in ("--write-config", "--chart"):  # estimate's files go to the test's folder
        if option in args:
            args[args.index(option) + 1] = str(tmp_path / f"estimate{option.replace('-', '_')}")
    run = [sys.executable, "-m", "eks_gpu_sharing.cli"]
    env = _subprocess_env()
    if args[0] == "check":
        # `check` compares a folder with what synth would write: give it a freshly synthesized one.
        synth = ["synth", *args[1:]]
        done = subprocess.run(
            [*run, *synth], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"{block.where}: {' '.join(synth)}\n{done.stderr}"
    done = subprocess.run(
        [*run, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, (
        f"{block.where}: `{command}` failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
    )
    if args[0] == "synth":
        assert sorted(out.glob("*.k8s.yaml")), f"{block.where}: `{command}` wrote no manifests"


# -- (2) python blocks run ----------------------------------------------------------------------


_PYTHON_BLOCKS = [pytest.param(block, id=block.where) for block in _all_blocks(RUNNABLE_PYTHON)]


def test_docs_have_python_examples() -> None:
    assert _PYTHON_BLOCKS, "the guide should show at least one runnable Python example"


@pytest.mark.slow
@pytest.mark.parametrize("block", _PYTHON_BLOCKS)
def test_python_blocks_run(block: Block, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(block.body, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,  # examples may read gpu-sharing.yaml; cdk.App() writes to a temp dir
        env=_subprocess_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (
        f"{block.where}: the example failed (exit {done.returncode}):\n"
        f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    )


@pytest.mark.parametrize("block", _PYTHON_BLOCKS)
def test_python_blocks_synthesize(block: Block) -> None:
    """An example that builds a CDK app must synthesize it, or it proves little."""
    if "aws_cdk" in block.body or "cdk.App(" in block.body:
        assert ".synth()" in block.body, f"{block.where}: call app.synth() at the end"


# -- the conventions checker itself -------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "allowed"),
    [
        ("make synth", True),
        ("make  test", True),
        ("eks-gpu-sharing synth --config gpu-sharing.yaml --out manifests/", True),
        ("eks-gpu-sharing check --config gpu-sharing.yaml --out manifests/", True),
        ("kubectl apply -f manifests/", False),
        ("helm upgrade --install x y", False),
        ("eks-gpu-sharing synth --out $HOME/x", False),
        ("npx cdk deploy GpuSlicingEks", False),
    ],
)
def test_bash_command_rules(command: str, allowed: bool) -> None:
    assert (_check_bash_command(command) is None) is allowed


def test_command_splitting_handles_comments_and_continuations() -> None:
    body = "# render\neks-gpu-sharing synth \\\n  --config gpu-sharing.yaml  # here\n\nmake test\n"
    assert _commands(body) == ["eks-gpu-sharing synth --config gpu-sharing.yaml", "make test"]
