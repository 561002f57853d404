"""Read the setup (cluster, Karpenter, pools and sharing) from one small YAML file.

The file is the plain-YAML users' counterpart of the Python props: its keys are the camelCase
of the dataclass fields it builds (``GpuPool.gpu_limit`` is ``gpuLimit``, see
:func:`eks_gpu_sharing.vocabulary.yaml_key`), so a new field is a new key with no table to edit.
It builds the same ``GpuPool``, ``ExistingKarpenter`` and sharing objects as the API, inside a
YAML vocabulary, so their errors name ``pools[0].gpuLimit`` rather than ``GpuPool.gpu_limit``.

Every problem in a file is reported at once. Hostile input gets a clear error and nothing else:
the loader refuses aliases (no alias bombs), duplicate keys, nesting deeper than
:data:`MAX_DEPTH`, files over :data:`MAX_FILE_BYTES`, and anything that is not UTF-8 text. See
``gpu-sharing.yaml`` at the top of the repository for a commented example.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Any, Final

import yaml

from .errors import NOT_SET, ConfigurationError, Problem, Problems, shown_yaml
from .guardrails import PodGuardrails
from .karpenter_installation import ExistingKarpenter
from .kubernetes_names import eks_cluster_name_error
from .monitoring.settings import Monitoring
from .pool import GpuPool
from .setup import DevicePluginSettings, GpuSharingSetup, SampleWorkloadSettings
from .sharing import SHARING_MODES, Sharing, SharingMode
from .versions import KARPENTER_VERSION, KUBERNETES_VERSION
from .vocabulary import Yaml, speaking, yaml_key

#: Largest config file read (a real one is a few KiB).
MAX_FILE_BYTES: Final = 1024 * 1024
#: Deepest nesting of mappings and lists (a real file nests four levels).
MAX_DEPTH: Final = 32


def load_config(path: str | Path) -> GpuSharingSetup:
    """Load and validate a config file; raise ``ConfigurationError`` naming every bad value."""
    document = read_yaml_file(path, option="--config", what="your gpu-sharing.yaml")
    return parse_config(document, source=str(path))


def read_yaml_file(path: str | Path, *, option: str, what: str) -> Any:
    """The one YAML document of a small UTF-8 file, or a ``ConfigurationError`` saying why not
    (``option`` and ``what`` word the fix: ``pass --config with the path of ...``)."""
    return load_yaml(read_text_file(path, option=option, what=what), source=str(path))


def read_text_file(
    path: str | Path,
    *,
    option: str,
    what: str,
    max_bytes: int = MAX_FILE_BYTES,
    field: str = "config file",
    too_large_fix: str | None = None,
) -> str:
    """The UTF-8 text of a file of at most ``max_bytes``, or a ``ConfigurationError`` (named
    ``field``) saying why not: missing, a folder, unreadable, too large, not UTF-8."""
    path = Path(path)
    try:
        if path.is_dir():
            raise IsADirectoryError(path)
        if path.exists() and not path.is_file():
            # A FIFO or device would block the read or never end.
            raise _file_error(
                path, "is not a regular file", f"pass {option} with the path of {what}", field
            )
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise _file_error(
            path, "the file does not exist", f"pass {option} with the path of {what}", field
        ) from None
    except IsADirectoryError:
        raise _file_error(
            path, "is a folder, not a file", "pass the YAML file itself", field
        ) from None
    except OSError as error:
        raise _file_error(
            path,
            f"cannot be read ({error.strerror or error})",
            "check the path and its permissions",
            field,
        ) from None
    if len(data) > max_bytes:
        size = f"{max_bytes // 1024} KiB" if max_bytes < 1024 * 1024 else f"{max_bytes >> 20} MiB"
        fix = too_large_fix or f"{what} is a few KiB: pass the right file"
        raise _file_error(path, f"is larger than {size}", fix, field)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _file_error(
            path, f"is not UTF-8 text (byte {error.start})", "save the file as UTF-8", field
        ) from None


def load_yaml(text: str, *, source: str = "config") -> Any:
    """Parse one YAML document safely: no aliases, no duplicate keys, bounded depth."""
    try:
        documents = list(yaml.load_all(text, Loader=StrictLoader))
    except yaml.YAMLError as error:
        raise _file_error(
            source,
            f"is not valid YAML ({_yaml_problem(error)})",
            "fix the YAML at the position shown",
        ) from None
    except RecursionError:
        raise _file_error(
            source, f"nests deeper than {MAX_DEPTH} levels", "write plain keys and lists"
        ) from None
    except ValueError as error:
        # Python refuses to convert integers of more than 4300 digits (sys.int_info).
        too_long = "integer string conversion" in str(error)
        raise _file_error(
            source,
            "holds a number with thousands of digits"
            if too_long
            else f"cannot be parsed ({_short(error)})",
            "write numbers of ordinary size",
        ) from None
    if len(documents) != 1:
        raise _file_error(
            source, f"holds {len(documents)} YAML documents", "put the whole setup in one document"
        )
    return documents[0]


def _token_strings(value: Any, location: str) -> Iterator[tuple[str, str]]:
    """Every key or string value holding a CDK token marker, with its location."""
    if isinstance(value, str):
        if "${Token[" in value or "#{Token[" in value:
            yield location or "(file)", value
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{location}.{key}" if location else str(key)
            yield from _token_strings(key, where)
            yield from _token_strings(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _token_strings(item, f"{location}[{index}]")


def _kind_of(value: Any) -> str:
    """What a YAML document is, without its content (``a text of 34 characters``)."""
    if isinstance(value, str):
        return f"<text of {len(value)} characters>"
    if isinstance(value, list):
        return f"<list of {len(value)} items>"
    return f"<{type(value).__name__}>"


def parse_config(document: Any, *, source: str = "config") -> GpuSharingSetup:
    """Build a ``GpuSharingSetup`` from an already-parsed YAML document."""
    reader = Reader()
    for location, text in _token_strings(document, ""):
        # In a CDK app such a string resolves to whatever object has that token number.
        reader.add(
            location,
            text,
            "a CDK token (${Token[...]}) is not a value a config file can hold: in a CDK app "
            "it would resolve to an unrelated object",
            "write the value itself",
        )
    reader.problems.raise_if_any(source=source)
    root = reader.mapping(document, "")
    if root is None:
        reader.problems.raise_if_any(source=source)
    assert root is not None
    reader.only(root, "", [yaml_key(f.name) for f in dataclasses.fields(GpuSharingSetup)])
    cluster_name = reader.value(str, root, "clusterName", required=True)
    kubernetes_version = reader.value(str, root, "kubernetesVersion", default=KUBERNETES_VERSION)
    # The discovery tag defaults to the cluster name; a bad name is reported once, as clusterName.
    discovery_tag_default = cluster_name
    if isinstance(cluster_name, str) and eks_cluster_name_error(cluster_name):
        discovery_tag_default = "reported-as-clusterName"
    karpenter = reader.build(
        ExistingKarpenter,
        root.get("karpenter"),
        "karpenter",
        defaults={"version": KARPENTER_VERSION, "discovery_tag_value": discovery_tag_default},
        required=True,
    )
    pools = reader.pools(root.get("pools"))
    device_plugin = reader.build(DevicePluginSettings, root.get("devicePlugin", {}), "devicePlugin")
    optional = {
        name: reader.build(cls, root[yaml_key(name)], yaml_key(name))
        for name, cls in (
            ("sample_workload", SampleWorkloadSettings),
            ("pod_guardrails", PodGuardrails),
            ("monitoring", Monitoring),
        )
        if root.get(yaml_key(name)) is not None
    }
    tags = reader.value(dict, root, "instanceTags", default={})
    values = {
        "cluster_name": cluster_name,
        "karpenter": karpenter,
        "pools": pools,
        "device_plugin": device_plugin,
        "kubernetes_version": kubernetes_version,
        "instance_tags": tags,
        **optional,
    }
    if any(value is None or value is _INVALID for value in values.values()):
        # Some section is broken: no setup to check, but a bad name is still worth saying.
        if isinstance(cluster_name, str) and (reason := eks_cluster_name_error(cluster_name)):
            reader.add("clusterName", cluster_name, reason, "use the name EKS shows for it")
        reader.problems.raise_if_any(source=source)
    with _Collect(reader), speaking(Yaml("")):
        setup = GpuSharingSetup(**values)
    reader.problems.raise_if_any(source=source)
    return setup


# -- reading ------------------------------------------------------------------------------------

_INVALID: Final = object()


class Reader:
    """Reads sections into the library's dataclasses, recording every problem on the way."""

    def __init__(self) -> None:
        self.problems = Problems()

    def add(self, location: str, value: Any, rule: str, fix: str) -> None:
        self.problems.add(field=location or "(file)", value=value, rule=rule, fix=fix, yaml=True)

    def mapping(self, raw: Any, location: str) -> dict[str, Any] | None:
        if not isinstance(raw, dict):
            self.add(
                location,
                # A whole file that is not a mapping is likely not a config at all (`.env`,
                # a key file): say what it is, never echo it.
                raw if location else _kind_of(raw),
                "must be a mapping of keys to values",
                "check the indentation" if location else "start the file with clusterName:",
            )
            return None
        return raw

    def only(self, section: Mapping[str, Any], location: str, allowed: Sequence[str]) -> None:
        for key in section:
            if key not in allowed:
                close = difflib.get_close_matches(str(key)[:100], allowed, n=1)
                hint = f"did you mean {close[0]}?" if close else f"use {', '.join(allowed)}"
                # The key names the field: cut like a value, however long it is.
                name = str(key) if len(str(key)) <= 40 else f"{str(key)[:37]}..."
                self.add(_join(location, name), section[key], "unknown key", hint)

    def value(
        self,
        kind: Any,
        section: Mapping[str, Any],
        key: str,
        *,
        location: str = "",
        required: bool = False,
        default: Any = None,
    ) -> Any:
        where = _join(location, key)
        if key not in section:
            if required:
                self.add(where, NOT_SET, "is required", f"add a line {key}: <value>")
                return _INVALID
            return default
        return self.convert(kind, section[key], where, None)

    def build(
        self,
        cls: type,
        raw: Any,
        location: str,
        *,
        defaults: Mapping[str, Any] = {},
        ignore: Sequence[str] = (),
        required: bool = False,
    ) -> Any:
        """An instance of dataclass ``cls`` from the mapping at ``location``, or None."""
        if raw is None and not required:
            raw = {}
        if raw is None:
            key = location.rsplit(".", 1)[-1]
            self.add(
                location, NOT_SET, "is required", f"add a {key}: section (see the starter file)"
            )
            return None
        section = self.mapping(raw, location)
        if section is None:
            return None
        fields = [f for f in dataclasses.fields(cls) if f.init]
        keys = {yaml_key(f.name): f for f in fields}
        self.only({k: v for k, v in section.items() if k not in ignore}, location, list(keys))
        hints = typing.get_type_hints(cls)
        kwargs: dict[str, Any] = {}
        complete = True
        for key, spec in keys.items():
            where = _join(location, key)
            if key in section:
                converted = self.convert(hints[spec.name], section[key], where, spec)
                if converted is _INVALID:
                    complete = False
                else:
                    kwargs[spec.name] = converted
            elif spec.name in defaults:
                if defaults[spec.name] is _INVALID:
                    complete = False
                else:
                    kwargs[spec.name] = defaults[spec.name]
            elif (
                spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING
            ):
                self.add(where, NOT_SET, "is required", f"add a line {key}: <value>")
                complete = False
        if not complete:
            return None
        with _Collect(self), speaking(Yaml(location)):
            return cls(**kwargs)
        return None

    def convert(self, kind: Any, raw: Any, where: str, spec: dataclasses.Field[Any] | None) -> Any:
        """``raw`` as a ``kind`` (a type hint), or _INVALID after recording why not."""
        origin = typing.get_origin(kind)
        arguments = typing.get_args(kind)
        if kind is Sharing or (
            origin in (types.UnionType, typing.Union) and SharingMode in arguments
        ):
            return self.sharing(raw, where)
        if origin in (types.UnionType, typing.Union):
            if raw is None and type(None) in arguments:
                return None
            (inner,) = [a for a in arguments if a is not type(None)]
            return self.convert(inner, raw, where, spec)
        if origin in (Sequence, tuple, list) or kind in (list, tuple):
            if not isinstance(raw, list):
                self.add(where, raw, "must be a list", f"write it as a list: [{_short(raw)}]")
                return _INVALID
            item = arguments[0] if arguments else Any
            items = [
                self.convert(item, value, f"{where}[{i}]", spec) for i, value in enumerate(raw)
            ]
            return _INVALID if any(i is _INVALID for i in items) else items
        if origin is Mapping or kind in (dict, Mapping) or origin is dict:
            if not isinstance(raw, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
            ):
                self.add(
                    where,
                    raw,
                    "must be a mapping of text keys to text values",
                    'e.g. {example.com/team: ml} (quote numbers: "1")',
                )
                return _INVALID
            return dict(raw)
        if isinstance(kind, type) and issubclass(kind, Enum):
            for member in kind:
                if member.value == raw:
                    return member
            self.add(
                where, raw, "unknown value", f"use one of {', '.join(str(m.value) for m in kind)}"
            )
            return _INVALID
        if dataclasses.is_dataclass(kind) and isinstance(kind, type):
            built = self.build(kind, raw, where)
            return _INVALID if built is None else built
        if kind is bool:
            if not isinstance(raw, bool):
                self.add(
                    where, raw, "must be true or false", f"e.g. {where.rsplit('.', 1)[-1]}: true"
                )
                return _INVALID
            return raw
        if kind is int:
            if not isinstance(raw, int) or isinstance(raw, bool):
                self.add(
                    where, raw, "must be a whole number", f"e.g. {where.rsplit('.', 1)[-1]}: 4"
                )
                return _INVALID
            return raw
        if kind is float:
            if not isinstance(raw, int | float) or isinstance(raw, bool) or raw != raw:
                self.add(where, raw, "must be a number", f"e.g. {where.rsplit('.', 1)[-1]}: 0.5")
                return _INVALID
            return float(raw)
        if kind is str:
            if (
                spec is not None
                and spec.metadata.get("numbers_as_text")
                and isinstance(raw, int | float)
                and not isinstance(raw, bool)
            ):
                return str(raw)
            if not isinstance(raw, str):
                key = where.rsplit(".", 1)[-1]
                fix = (
                    f"give it a value: {key}: <text>"
                    if raw is None
                    else f'quote it: {key}: "{shown_yaml(raw)}"'
                )
                self.add(where, raw, "must be text", fix)
                return _INVALID
            return raw
        if kind is Any:
            return raw
        raise TypeError(f"the config reader has no rule for {kind!r}")  # a bug, not input

    def sharing(self, raw: Any, where: str) -> Any:
        section = self.mapping(raw, where)
        if section is None:
            return _INVALID
        mode = section.get("mode")
        if not isinstance(mode, str) or mode not in SHARING_MODES:
            self.add(
                _join(where, "mode"),
                mode,
                "unknown or missing sharing mode",
                f"use mode: {', '.join(SHARING_MODES)}",
            )
            return _INVALID
        built = self.build(SHARING_MODES[mode], section, where, ignore=("mode",))
        return _INVALID if built is None else built

    def pools(self, raw: Any) -> tuple[GpuPool, ...] | None:
        if not isinstance(raw, list) or not raw:
            self.add(
                "pools",
                raw,
                "must be a non-empty list of pools",
                "add pools: with at least one - name: ...",
            )
            return None
        built = [self.build(GpuPool, item, f"pools[{i}]") for i, item in enumerate(raw)]
        if any(pool is None for pool in built):
            return None
        return tuple(p for p in built if p is not None)


class _Collect:
    """Turns a ConfigurationError raised inside the block into recorded problems."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, error: BaseException | None, _tb: object) -> bool:
        if isinstance(error, ConfigurationError):
            self.reader.problems.extend(error)
            return True
        return False


# -- loading ------------------------------------------------------------------------------------


class StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, minus what a config file never needs and an attacker might use."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in PyYAML
        mark: Any = event.start_mark
        if isinstance(event, yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in this file", mark
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"nested deeper than {MAX_DEPTH} levels",
                    mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, list | dict):
                raise yaml.constructor.ConstructorError(
                    None, None, "a key must be text", key_node.start_mark
                )
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (the last would win)", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _file_error(
    source: str | Path, rule: str, fix: str, field: str = "config file"
) -> ConfigurationError:
    # Worded like the file's own problems: `config file: <path> -- is not valid YAML; ...`.
    return ConfigurationError(problems=[Problem(field, str(source), rule, fix, yaml=True)])


def _yaml_problem(error: yaml.YAMLError) -> str:
    """``line L, column C: problem`` of a parser error (PyYAML's text quotes the whole line)."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        return _short(f"line {mark.line + 1}, column {mark.column + 1}: {error.problem}")
    return _short(error)


def _short(value: Any) -> str:
    text = str(value).replace("\n", " ")
    return text if len(text) <= 160 else text[:157] + "..."


def _join(location: str, key: str) -> str:
    return f"{location}.{key}" if location else key
