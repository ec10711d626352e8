"""Typed configuration: dataclass sections, TOML files and ``--set key=value`` overrides.

A run's configuration has five sections, each a dataclass:

- ``[run]``      :class:`RunSettings` (task, seed, device, data set, data path)
- ``[data]``     :class:`DataSettings` (how files named by the user's data are trusted)
- ``[backbone]`` :class:`seqsuite.backbone.BackboneConfig`
- ``[train]``    :class:`seqsuite.trainer.TrainConfig`
- ``[task]``     the task plugin's own ``config_class``

Layers are applied in order: dataclass defaults, the task's ``defaults`` overrides,
``--config`` files, ``--set`` pairs, then CLI flags (``--epochs`` ...). Every layer is
checked against the dataclass fields: an unknown key names the nearest valid one, a
value of the wrong type says what was expected. Field constraints live beside the
field as ``metadata={"min": 1}`` (also ``max``, ``below`` and ``help``).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import tomli_w

from .errors import UserError

SECTIONS = ("run", "data", "backbone", "train", "task")


@dataclass
class RunSettings:
    """What to run and where: the ``[run]`` section."""

    task: str = field(default="", metadata={"help": "task plugin name"})
    seed: int = field(default=0, metadata={"min": 0, "help": "seed for every random choice"})
    device: Literal["auto", "cpu", "cuda"] = field(
        default="auto", metadata={"help": "auto picks CUDA when present"}
    )
    dataset: str = field(default="", metadata={"help": "named data set ('' = task default)"})
    data: str = field(default="", metadata={"help": "path to the user's own data"})
    init_from: str = field(
        default="", metadata={"help": "run directory whose backbone weights start this run"}
    )
    threads: int = field(
        default=0,
        metadata={
            "min": 0,
            "max": 1024,
            "help": "CPU threads for PyTorch (0 = chosen from the CPUs this process may use and the model's size)",
        },
    )
    log: list[str] = field(
        default_factory=lambda: ["csv"],
        metadata={
            "help": "where training is logged: csv (history.csv, always), tensorboard, mlflow"
        },
    )

    def validate(self) -> None:
        unknown = [kind for kind in self.log if kind not in ("csv", "tensorboard", "mlflow")]
        if unknown:
            raise UserError(f"log: unknown {unknown}; expected csv, tensorboard or mlflow")


@dataclass
class DataSettings:
    """How far the user's data is trusted, and the limits on what a file may declare.

    Readers check the size they are about to allocate against these limits *before*
    allocating, so a small file that declares a huge shape, rate or length is refused with
    one line naming the limit, instead of exhausting memory or time. Raise a limit with
    ``--set data.max_...=N`` when you mean it.
    """

    confine: bool = field(
        default=False,
        metadata={"help": "refuse listed paths (and links) that lead outside the data's folder"},
    )
    max_rows: int = field(
        default=100_000_000, metadata={"min": 1, "help": "rows read from one table file"}
    )
    max_line_chars: int = field(
        default=10_000_000, metadata={"min": 1, "help": "characters in one line or text field"}
    )
    max_files: int = field(
        default=1_000_000,
        metadata={"min": 1, "help": "files listed in one data folder or manifest"},
    )
    max_elements: int = field(
        default=200_000_000,
        metadata={"min": 1, "help": "elements of one array a file declares (.mat, .pickle, .npy)"},
    )
    max_pickle_nodes: int = field(
        default=10_000_000, metadata={"min": 1, "help": "lists and numbers in one .pickle file"}
    )
    max_audio_seconds: float = field(
        default=3600.0, metadata={"min": 0.0, "help": "length of one audio file"}
    )
    min_sample_rate: int = field(
        default=1000, metadata={"min": 1, "help": "lowest audio sample rate accepted (Hz)"}
    )
    max_sample_rate: int = field(
        default=768_000, metadata={"min": 1, "help": "highest audio sample rate accepted (Hz)"}
    )
    max_notes: int = field(default=100_000, metadata={"min": 1, "help": "notes in one music file"})
    streaming: bool = field(
        default=False,
        metadata={"help": "read a Hugging Face data set as a stream instead of downloading it all"},
    )


@dataclass
class RunConfig:
    """A fully resolved configuration: what ``config.toml`` in a run directory holds."""

    run: RunSettings
    data: DataSettings
    backbone: Any
    train: Any
    task: Any

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {name: dataclasses.asdict(getattr(self, name)) for name in SECTIONS}

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())


# ---------------------------------------------------------------------------------------
# type checking of single values


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (list, tuple):
        (inner, *_) = typing.get_args(tp) or (Any,)
        return f"a list of {_describe(inner)}"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(
        tp, str(tp)
    )


def coerce(value: Any, tp: Any, where: str) -> Any:
    """Return ``value`` as type ``tp`` or raise a :class:`UserError` naming ``where``."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        choices = typing.get_args(tp)
        if value in choices:
            return value
        close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UserError(f"{where}: got {value!r}, expected {_describe(tp)}{hint}")
    if origin in (types.UnionType, typing.Union):
        for option in typing.get_args(tp):
            try:
                return coerce(value, option, where)
            except UserError:
                continue
        raise UserError(f"{where}: got {value!r}, expected {_describe(tp)}")
    if origin in (list, tuple):
        (inner, *_) = typing.get_args(tp) or (Any,)
        if not isinstance(value, list | tuple):
            raise UserError(f"{where}: got {value!r}, expected {_describe(tp)}")
        return [coerce(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            if abs(value) >= 2**63:
                raise UserError(f"{where}: got {value}, expected an integer below 2**63")
            return value
    elif tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise UserError(f"{where}: got {value!r}, expected a finite number")
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)  # `--set task.column=2020` names a column "2020"
    raise UserError(f"{where}: got {value!r}, expected {_describe(tp)}")


def _check_bounds(value: Any, meta: typing.Mapping[str, Any], where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    if "min" in meta and value < meta["min"]:
        raise UserError(f"{where}: got {value!r}, expected a value >= {meta['min']}")
    if "max" in meta and value > meta["max"]:
        raise UserError(f"{where}: got {value!r}, expected a value <= {meta['max']}")
    if "below" in meta and value >= meta["below"]:
        raise UserError(f"{where}: got {value!r}, expected a value < {meta['below']}")


def field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def build(
    cls: type, values: dict[str, Any], section: str, sources: dict[str, str] | None = None
) -> Any:
    """Build dataclass ``cls`` from ``values``, checking keys, types and bounds.

    ``sources`` maps ``"section.key"`` to the layer that set it (a file, ``--set ...``),
    so that an error names where the bad value came from.
    """
    sources = sources or {}

    def where(key: str) -> str:
        source = sources.get(f"{section}.{key}")
        return f"{source}: {section}.{key}" if source else f"{section}.{key}"

    types_ = field_types(cls)
    for key in values:
        if key not in types_:
            raise UserError(
                unknown_key_message(f"{section}.{key}", [f"{section}.{k}" for k in types_])
            )
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in values:
            value = coerce(values[f.name], types_[f.name], where(f.name))
            _check_bounds(value, f.metadata, where(f.name))
            kwargs[f.name] = value
    obj = cls(**kwargs)
    check = getattr(obj, "validate", None)
    if callable(check):
        try:
            check()
        except UserError as err:
            raise UserError(f"[{section}] {err}") from None
    return obj


def unknown_key_message(key: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    if close:
        return f"unknown key {key!r}; did you mean {close[0]!r}?"
    return f"unknown key {key!r}; valid keys: {', '.join(sorted(valid))}"


# ---------------------------------------------------------------------------------------
# layers: files, --set pairs, merging


def read_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: cannot read config file ({err})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise UserError(f"{path}: invalid TOML: {err}") from None
    except RecursionError:
        raise UserError(f"{path}: invalid TOML: nested too deeply") from None


def parse_value(text: str) -> Any:
    """Parse a ``--set`` value as a TOML value; anything that is not TOML is a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_pairs(pairs: list[str], option: str) -> list[tuple[str, Any]]:
    """``["horizon=12", "series=a"]`` -> ``[("horizon", 12), ("series", "a")]`` (TOML values)."""
    parsed = []
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"{option} {pair!r}: expected KEY=VALUE")
        parsed.append((key.strip(), parse_value(text.strip())))
    return parsed


def parse_set(pair: str) -> tuple[str, str, Any]:
    """``"train.lr=3e-4"`` -> ``("train", "lr", 0.0003)``."""
    if "=" not in pair:
        raise UserError(f"--set {pair!r}: expected KEY=VALUE, e.g. --set train.lr=0.001")
    key, text = pair.split("=", 1)
    key = key.strip()
    if key.count(".") != 1:
        raise UserError(
            f"--set {pair!r}: expected a key SECTION.NAME with SECTION one of {', '.join(SECTIONS)}"
        )
    section, name = key.split(".")
    return section, name, parse_value(text.strip())


def merge(
    base: dict[str, dict[str, Any]],
    layer: dict[str, Any],
    source: str,
    sources: dict[str, str] | None = None,
) -> None:
    """Merge one layer (a file's content, or pairs) into ``base``, in place.

    ``sources`` (optional) records which layer set each key, for error messages.
    """
    for section, values in layer.items():
        if section not in base:
            raise UserError(f"{source}: {unknown_key_message(section, list(base))}")
        if not isinstance(values, dict):
            raise UserError(f"{source}: [{section}] must be a table of key = value")
        for key, value in values.items():
            if key not in base[section]:
                raise UserError(
                    f"{source}: "
                    + unknown_key_message(
                        f"{section}.{key}", [f"{section}.{k}" for k in base[section]]
                    )
                )
            if (section, key) == ("run", "task") and value != base["run"]["task"]:
                raise UserError(
                    f"{source}: run.task cannot be set; it is the task the command names"
                )
            base[section][key] = value
            if sources is not None:
                sources[f"{section}.{key}"] = source


def section_classes(task_config_class: type) -> dict[str, type]:
    from .backbone import BackboneConfig
    from .trainer import TrainConfig

    return {
        "run": RunSettings,
        "data": DataSettings,
        "backbone": BackboneConfig,
        "train": TrainConfig,
        "task": task_config_class,
    }


def default_layers(task: Any) -> dict[str, dict[str, Any]]:
    """The defaults a task runs with: dataclass defaults plus the task's own overrides."""
    classes = section_classes(task.config_class)
    base = {name: dataclasses.asdict(cls()) for name, cls in classes.items()}
    base["run"]["task"] = task.name
    base["run"]["dataset"] = task.default_dataset
    merge(base, getattr(task, "defaults", {}) or {}, f"task {task.name!r} defaults")
    return base


def resolve(
    task: Any,
    files: list[str | Path] = (),
    sets: list[str] = (),
    flags: dict[str, dict[str, Any]] | None = None,
    base: list[tuple[dict[str, Any], str]] = (),
) -> RunConfig:
    """Apply all layers for ``task`` and return a checked :class:`RunConfig`.

    ``base``: (values, source name) layers between the defaults and the files, such as
    the backbone of an ``--init-from`` run.
    """
    values = default_layers(task)
    sources: dict[str, str] = {}
    for layer, name in base:
        merge(values, layer, name, sources)
    for path in files:
        merge(values, read_toml(path), str(path), sources)
    for pair in sets:
        section, name, value = parse_set(pair)
        merge(values, {section: {name: value}}, f"--set {pair}", sources)
    for section, options in (flags or {}).items():
        for key, value in options.items():
            if value is not None:
                merge(values, {section: {key: value}}, f"option for {section}.{key}", sources)
    return from_dict(task, values, sources)


def from_dict(
    task: Any, values: dict[str, dict[str, Any]], sources: dict[str, str] | None = None
) -> RunConfig:
    """Check and build a :class:`RunConfig` from plain nested values."""
    classes = section_classes(task.config_class)
    for section in values:
        if section not in classes:
            raise UserError(f"config: {unknown_key_message(section, list(classes))}")
    built = {name: build(cls, values.get(name, {}), name, sources) for name, cls in classes.items()}
    return RunConfig(**built)
