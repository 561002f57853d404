"""Kubernetes manifests as ``kubectl`` writes them: files, folders or standard input, in
multi-document YAML or JSON, with ``kind: List`` (and ``*List``) flattened to its items.

The workload reader (``--workloads``) and the cluster dump reader (``--cluster``) both read
through here, so both accept the same inputs and name a bad document the same way.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from .config import StrictLoader, read_text_file
from .errors import ConfigurationError, shown

#: Manifest files read from a folder (not recursive).
MANIFEST_SUFFIXES: Final = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class ManifestSource:
    """Where manifests are read from, in the words of the option that named them.

    :param option: The command-line option (``--workloads``), used in every error.
    :param what: What the files hold, for the "pass ... with" fix.
    :param max_bytes: Largest file (or standard input) read.
    :param example: A command that writes such a file, for the fix of an empty input.
    """

    option: str
    what: str
    max_bytes: int
    example: str


def manifest_objects(
    paths: Sequence[str], source: ManifestSource, *, stdin: Any = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object in ``paths`` (files, folders, ``-`` for standard input) with where it was
    read (``<file> document <n>[ item <m>]``); Lists are flattened. A document that is not a
    mapping with a string ``kind`` raises ``ConfigurationError`` naming its place."""
    for name, text in _texts(paths, source, stdin):
        for index, document in enumerate(_documents(text, name, source)):
            if document is not None:
                yield from _flattened(document, f"{name} document {index + 1}", source)


def _flattened(
    document: Any, where: str, source: ManifestSource
) -> Iterator[tuple[str, dict[str, Any]]]:
    if not isinstance(document, dict) or not isinstance(document.get("kind"), str):
        raise bad_manifest(
            source, where, "kind", document, "a manifest is a mapping with apiVersion and kind"
        )
    kind = document["kind"]
    if kind == "List" or (kind.endswith("List") and isinstance(document.get("items"), list)):
        for index, item in enumerate(document.get("items") or []):
            yield from _flattened(item, f"{where} item {index + 1}", source)
        return
    yield where, document


def bad_manifest(
    source: ManifestSource, where: str, field: str, value: Any, rule: str
) -> ConfigurationError:
    """The error for a field of one manifest object, named by file, document and field."""
    return ConfigurationError(
        field=f"{source.option} {where}: {field}",
        value=value,
        rule=rule,
        fix="pass manifests the Kubernetes API server accepts (kubectl apply --dry-run=server)",
    )


def _texts(paths: Sequence[str], source: ManifestSource, stdin: Any) -> Iterator[tuple[str, str]]:
    for given in paths:
        if given == "-":
            stream = stdin if stdin is not None else sys.stdin
            text = stream.read(source.max_bytes + 1)
            if len(text) > source.max_bytes:
                raise ConfigurationError(
                    field=source.option,
                    value="standard input",
                    rule=f"is larger than {source.max_bytes >> 20} MiB",
                    fix="split the manifests over several files",
                )
            yield "standard input", text
            continue
        path = Path(given)
        files = (
            sorted(p for p in path.iterdir() if p.suffix in MANIFEST_SUFFIXES and p.is_file())
            if path.is_dir()
            else [path]
        )
        for file in files:
            yield (
                str(file),
                read_text_file(
                    file,
                    option=source.option,
                    what=source.what,
                    max_bytes=source.max_bytes,
                    field=source.option,
                    too_large_fix="split the manifests over several files",
                ),
            )


def _documents(text: str, name: str, source: ManifestSource) -> list[Any]:
    try:
        return list(yaml.load_all(text, Loader=StrictLoader))
    except (yaml.YAMLError, RecursionError, ValueError) as error:
        raise ConfigurationError(
            field=source.option,
            value=name,
            rule=f"is not valid YAML or JSON ({shown(str(error).splitlines()[0])})",
            fix=f"pass manifests as kubectl writes them, e.g. {source.example}",
        ) from None
