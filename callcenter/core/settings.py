"""Settings of one node: the shipped YAML, an optional user file, environment.

Sources are merged in that order (later wins). The result is validated once,
at start; a bad value raises :class:`SettingsError` naming the setting and
where it came from (``file:line`` or the environment variable), so an
operator can fix it without reading code.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from callcenter.core.errors import SettingsError
from config import CONFIG_DIR, default_settings_path

ENV_PREFIX = "CALLCENTER__"

# Where each leaf value came from, keyed by its dotted path.
_Origins = dict[tuple[str | int, ...], str]
KNOWN_CODECS = ("PCMU", "PCMA", "G722")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NodeSettings(_Section):
    # Unique among the nodes sharing a store; None = "<hostname>-<SIP port>".
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
    data_dir: Path = Path("./data")
    heartbeat_s: float = Field(5.0, gt=0)
    # A node whose heartbeat is older is gone; None = 3 x heartbeat_s.
    stale_after_s: float | None = Field(None, gt=0)

    @field_validator("stale_after_s")
    @classmethod
    def _above_heartbeat(cls, value: float | None, info: ValidationInfo) -> float | None:
        beat = info.data.get("heartbeat_s")
        if value is not None and beat is not None and value <= beat:
            raise ValueError(f"must be longer than heartbeat_s ({beat})")
        return value

    @property
    def stale_after(self) -> float:
        """Seconds without a heartbeat after which a node counts as gone."""
        return self.stale_after_s if self.stale_after_s is not None else 3 * self.heartbeat_s


class TrunkSettings(_Section):
    """A SIP trunk (provider account) used for outbound calls."""

    name: str
    registrar: str
    username: str = ""
    password: str = ""
    realm: str = "*"
    proxy: str | None = None
    caller_id: str | None = None
    # "register" in YAML; renamed here because pydantic reserves the name.
    registration: bool = Field(True, alias="register")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class PerSourceSettings(_Section):
    """Limits on new INVITEs per source address (trusted sources are exempt)."""

    max_invites_per_s: float = Field(10.0, ge=0)  # 0 = no rate limit
    burst: int = Field(20, ge=1)
    # Concurrent calls per source; None = half the caller slots (at least 1), 0 = no limit.
    max_calls: int | None = Field(None, ge=0)


class SipSettings(_Section):
    host: str = "0.0.0.0"
    port: int = Field(5060, ge=0, le=65535)
    transports: list[Literal["udp", "tcp"]] = ["udp", "tcp"]
    public_address: str | None = None
    user_agent: str = "callcenter/0.1"
    # User part of the node's own SIP address (the From of calls it dials directly).
    local_user: str = "callcenter"
    numbers: list[str] = []
    max_calls: int = Field(4, ge=1)
    busy_code: Literal[486, 503] = 503
    codecs: list[str] = list(KNOWN_CODECS)
    clock_rate: Literal[8000, 16000] = 8000
    rtp_port: int = Field(40000, ge=0, le=65535)
    rtp_port_range: int = Field(2000, ge=0)
    media_timeout_s: float = Field(15.0, gt=0)
    # An answered inbound call with no RTP at all this long after its media
    # started is ended (no_media); 0 = never (media_timeout_s applies).
    first_rtp_timeout_s: float = Field(5.0, ge=0)
    # Real-time scheduling (SCHED_RR) for pjmedia's clock and media threads
    # when the process may (CAP_SYS_NICE), else a lower nice value.
    realtime_media: bool = True
    retry_after_s: int = Field(5, ge=1, le=3600)
    reserved_slots: int = Field(0, ge=0)
    reserved_numbers: list[str] = []
    trusted_sources: list[str] = ["127.0.0.1", "::1"]
    per_source: PerSourceSettings = PerSourceSettings()
    # Refused INVITEs journaled one by one per source and second; the rest
    # of that second goes into one aggregated record with their count.
    refusals_journaled_per_s: int = Field(5, ge=0)
    ring_timeout_s: float = Field(30.0, gt=0)
    # A blind transfer (REFER) waits this long for the target's answer.
    transfer_timeout_s: float = Field(30.0, gt=0)
    # Callers' jitter buffer: how much it may hold back before playing
    # (adaptive up to this), and at most.
    jitter_buffer_prefetch_ms: int = Field(60, ge=20, le=1000)
    jitter_buffer_max_ms: int = Field(120, ge=40, le=5000)
    trunks: list[TrunkSettings] = []

    @field_validator("codecs")
    @classmethod
    def _known_codecs(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c.upper() not in KNOWN_CODECS]
        if unknown:
            raise ValueError(f"unknown codec(s) {unknown}; known: {list(KNOWN_CODECS)}")
        if not value:
            raise ValueError("at least one codec is needed")
        return [c.upper() for c in value]

    @field_validator("numbers", "reserved_numbers", mode="before")
    @classmethod
    def _numbers_as_text(cls, value: Any) -> Any:
        return [str(v) for v in value] if isinstance(value, list) else value

    @field_validator("trusted_sources")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
        return value

    @field_validator("jitter_buffer_max_ms")
    @classmethod
    def _room_above_prefetch(cls, value: int, info: ValidationInfo) -> int:
        prefetch = info.data.get("jitter_buffer_prefetch_ms")
        if prefetch is not None and value < 2 * prefetch:
            raise ValueError(f"must be at least twice jitter_buffer_prefetch_ms ({prefetch})")
        return value


class RecordingSettings(_Section):
    enabled: bool = True
    dir: Path | None = None
    flush_interval_s: float = Field(1.0, gt=0, le=5)


class StoreSettings(_Section):
    url: str | None = None


class MqttSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    keepalive_s: int = Field(30, ge=5)
    reconnect_s: float = Field(2.0, gt=0)


class EventSettings(_Section):
    backend: Literal["memory", "mqtt"] = "memory"
    topic_prefix: str = "callcenter"
    mqtt: MqttSettings = MqttSettings()


class EngineSettings(_Section):
    # The dialog flow every answered call runs (a file in flows_dir); null =
    # no conversation: the greeting, then the call stays up for max_call_s.
    flow: str | None = "clinic"
    flows_dir: Path | None = None
    greeting: Path | None = None
    # With no flow: a WAV looped after the greeting (hold audio), or null.
    hold_audio: Path | None = None
    max_call_s: float = Field(600.0, gt=0)
    # On SIGTERM (or `callcenter drain`) live calls get this long to end
    # before they are hung up; new calls are refused meanwhile.
    drain_timeout_s: float = Field(60.0, ge=0)


class AcdSettings(_Section):
    """The human queue (ACD): its agents and queues files, read and checked at start."""

    enabled: bool = True
    # None = the shipped files (config/agents.yaml, config/queues.yaml).
    agents_file: Path | None = None
    queues_file: Path | None = None

    @property
    def agents_path(self) -> Path:
        """The agents file in use."""
        return self.agents_file or CONFIG_DIR / "agents.yaml"

    @property
    def queues_path(self) -> Path:
        """The queues file in use."""
        return self.queues_file or CONFIG_DIR / "queues.yaml"


class ApiSettings(_Section):
    """The control API inside the engine (HTTP, bearer tokens per user)."""

    enabled: bool = True
    # Loopback by default: another address exposes the API beyond this host.
    host: str = "127.0.0.1"
    # 0 = any free port; the bound URL is written to <data_dir>/run/<node>.api.
    port: int = Field(8480, ge=0, le=65535)


class SupervisionSettings(_Section):
    """Supervisors listening in, whispering and barging into calls."""

    # Seconds the engine rings a supervisor's phone before giving up (408).
    ring_timeout_s: float = Field(20.0, gt=0, le=120)
    # How often a monitor looks whether an agent joined or left the call.
    recheck_s: float = Field(0.25, gt=0, le=5)


class AnsweringMachineSettings(_Section):
    """Answering-machine detection on answered campaign calls (the detector is
    ``outbound/answering_machine.py``)."""

    # false = every answer is taken for a person (the flow runs at once).
    enabled: bool = True
    # Seconds after the answer by which the detector decides; still undecided
    # then counts as a person (a person greeted late beats a machine missed).
    decision_s: float = Field(3.0, ge=1.0, le=10.0)
    # Voiced seconds in the first utterance that make it a machine's greeting
    # (a live "Hello?" is about 0.3 to 0.8 s).
    greeting_s: float = Field(1.2, gt=0, le=5.0)
    # Silence after a short first utterance that makes it a person waiting.
    after_greeting_silence_s: float = Field(0.8, gt=0, le=3.0)
    # Words (bursts of speech split by pauses of at least word_gap_s) in the
    # first utterance beyond which it is a greeting.
    max_words: int = Field(3, ge=1, le=10)
    word_gap_s: float = Field(0.1, gt=0, le=1.0)
    # A beep: one steady tone between these frequencies for at least beep_min_s.
    beep_min_hz: float = Field(350.0, ge=100.0)
    beep_max_hz: float = Field(2100.0, le=3800.0)
    beep_min_s: float = Field(0.15, ge=0.06, le=2.0)
    # On a machine with no beep heard: this much silence ends its greeting.
    greeting_end_silence_s: float = Field(1.5, gt=0, le=10.0)
    # On a machine: the longest wait after the decision for the beep (or the
    # greeting's end) before the message is left anyway.
    beep_wait_max_s: float = Field(30.0, gt=0, le=120.0)
    # webrtcvad's aggressiveness (0-3) for the speech frames.
    vad_aggressiveness: int = Field(2, ge=0, le=3)


class OutboundSettings(_Section):
    """The campaign dialer: `callcenter serve` dials the running campaigns."""

    enabled: bool = True
    # Seconds between passes over the running campaigns when nothing else
    # wakes the dialer (a call ending, the pacer allowing the next call).
    poll_s: float = Field(1.0, gt=0, le=60)
    # For tests and drills only: the dialer's clock (the dialing rules' "now")
    # starts at this UTC time and runs at real speed; None = the wall clock.
    clock_start: datetime | None = None
    answering_machine: AnsweringMachineSettings = AnsweringMachineSettings()

    @field_validator("clock_start")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError("give the UTC offset, e.g. 2026-01-13T15:00:00Z")
        return value


M = TypeVar("M", bound=BaseModel)


class Settings(_Section):
    """Every setting of a node, validated.

    Sections owned by packages the kernel may not import (``asr``, ``tts``)
    are kept raw here and validated by :meth:`section` with the package's
    own model, so their errors still name the file and line.
    """

    node: NodeSettings = NodeSettings()
    sip: SipSettings = SipSettings()
    recording: RecordingSettings = RecordingSettings()
    store: StoreSettings = StoreSettings()
    events: EventSettings = EventSettings()
    engine: EngineSettings = EngineSettings()
    acd: AcdSettings = AcdSettings()
    outbound: OutboundSettings = OutboundSettings()
    api: ApiSettings = ApiSettings()
    supervision: SupervisionSettings = SupervisionSettings()
    asr: dict[str, Any] = {}
    tts: dict[str, Any] = {}
    _origins: _Origins = PrivateAttr(default_factory=dict)

    def section(self, name: str, model: type[M]) -> M:
        """Validate the raw section `name` with `model`; raises SettingsError."""
        try:
            return model.model_validate(getattr(self, name))
        except ValidationError as exc:
            raise _settings_error(exc, (name,), self._origins) from None

    @property
    def recordings_dir(self) -> Path:
        """Where recordings go: the configured folder or ``<data_dir>/recordings``."""
        return self.recording.dir or self.node.data_dir / "recordings"

    @property
    def store_url(self) -> str:
        """The SQLAlchemy URL: the configured one or SQLite in the data dir."""
        return self.store.url or f"sqlite:///{self.node.data_dir / 'callcenter.db'}"


def load_settings(
    config_file: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Merge the shipped file, `config_file`, the environment and `overrides`.

    `overrides` maps dotted names (``"sip.port"``) to values, for CLI flags.
    Raises :class:`SettingsError` on a missing file, bad YAML or a bad value.
    """
    origins: _Origins = {}
    merged: dict[str, Any] = {}
    for path in [default_settings_path(), *([config_file] if config_file else [])]:
        _merge(merged, _read_yaml(path, origins), ())
    env = os.environ if environ is None else environ
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        keys = tuple(k.lower() for k in name[len(ENV_PREFIX) :].split("__"))
        _set_path(merged, keys, yaml.safe_load(raw) if raw else None)
        origins[keys] = f"environment variable {name}"
    for dotted, value in (overrides or {}).items():
        keys = tuple(dotted.split("."))
        _set_path(merged, keys, value)
        origins[keys] = f"command-line option for {dotted}"
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        raise _settings_error(exc, (), origins) from None
    settings._origins = origins
    return settings


def _settings_error(exc: ValidationError, prefix: tuple[str, ...],
                    origins: _Origins) -> SettingsError:
    first = exc.errors()[0]
    loc = (*prefix, *first["loc"])
    setting = ".".join(str(p) for p in loc)
    return SettingsError(
        f"invalid setting {setting!r} ({_origin_of(loc, origins)}): {first['msg']}")


def _read_yaml(path: Path, origins: _Origins) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"cannot read settings file {path}: {exc.strerror}") from None
    try:
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise SettingsError(f"settings file {where} is not valid YAML: {exc}") from None
    if node is None:
        return {}
    if not isinstance(node, yaml.MappingNode):
        raise SettingsError(f"settings file {path}:1 must be a mapping of sections")
    _record_origins(node, (), path, origins)
    data = yaml.safe_load(text)
    return data if isinstance(data, dict) else {}


def _record_origins(node: yaml.Node, prefix: tuple[str | int, ...], path: Path,
                    origins: _Origins) -> None:
    origins[prefix] = f"{path}:{node.start_mark.line + 1}"
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            _record_origins(value, (*prefix, str(key.value)), path, origins)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_origins(item, (*prefix, index), path, origins)


def _origin_of(loc: tuple[str | int, ...], origins: _Origins) -> str:
    for end in range(len(loc), -1, -1):
        if loc[:end] in origins:
            return origins[loc[:end]]
    return "defaults"


def _merge(into: dict[str, Any], new: Mapping[str, Any], prefix: tuple[str, ...]) -> None:
    for key, value in new.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value, (*prefix, key))
        else:
            into[key] = value


def _set_path(tree: dict[str, Any], keys: tuple[str, ...], value: Any) -> None:
    node: Any = tree
    for key in keys[:-1]:
        if isinstance(node, list) and key.isdigit():
            node = node[int(key)]
            continue
        node = node.setdefault(key, {})
    last = keys[-1]
    if isinstance(node, list) and last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
