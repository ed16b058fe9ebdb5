"""Safety rule declarations: the ``[safety]`` table of the plant model, validated.

``PlantModel.safety`` is a raw dict; :func:`parse_safety` turns it into a frozen
:class:`SafetyConfig` or raises :class:`~factoryax.core.ConfigError` whose message names the
key path (``safety.rules.oil-hot.deadband``), the value and the fix.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from factoryax.core import ConfigError, PlantModel
from factoryax.safety.expr import Expr, parse_expr

__all__ = [
    "PRIORITY_SEVERITY",
    "ExpressionRule",
    "RateRule",
    "Rule",
    "SafetyConfig",
    "StaleRule",
    "ThresholdRule",
    "TwaRule",
    "parse_safety",
]

Priority = Literal["low", "medium", "high", "urgent"]
PRIORITY_SEVERITY: dict[str, int] = {"low": 1, "medium": 2, "high": 3, "urgent": 4}
"""The events table's integer ``severity`` for each alarm priority."""

SignalRef = Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+$")]


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = ""
    """Filled in from the key under ``[safety.rules]``."""
    priority: Priority = "high"
    message: str = ""
    latch: bool = False
    """A latched alarm stays annunciated after it clears until an operator resets it."""
    suppress_when: str | None = None
    """Suppressed by design while this expression holds (e.g. machine in maintenance)."""
    input_timeout_s: float | None = Field(None, ge=0)
    """Fail closed when an input is silent this long; None takes ``[safety]``'s; 0 never."""

    @property
    def severity(self) -> int:
        """The integer severity of this rule's priority (1 low … 4 urgent)."""
        return PRIORITY_SEVERITY[self.priority]

    def inputs(self) -> frozenset[tuple[str, str]]:
        """The (asset, signal) pairs the rule reads."""
        raise NotImplementedError


def _split(ref: str) -> tuple[str, str]:
    asset, signal = ref.split(".", 1)
    return asset, signal


class _SingleSignal(_Rule):
    signal: SignalRef

    def inputs(self) -> frozenset[tuple[str, str]]:
        """The one (asset, signal) pair the rule reads."""
        return frozenset({_split(self.signal)})


class ThresholdRule(_SingleSignal):
    """Active above ``above`` (or below ``below``); clears past the deadband.

    ``on_delay_s``: the condition must hold this long before the alarm; ``off_delay_s``:
    it must be clear this long before the alarm returns to normal (ISA-18.2 §10.5).
    """

    type: Literal["threshold"]
    above: float | None = None
    below: float | None = None
    deadband: float = Field(0.0, ge=0)
    on_delay_s: float = Field(0.0, ge=0)
    off_delay_s: float = Field(0.0, ge=0)

    @model_validator(mode="after")
    def _one_limit(self) -> ThresholdRule:
        if self.above is None and self.below is None:
            raise ValueError("set `above` or `below` (or both)")
        return self


class RateRule(_SingleSignal):
    """Active while the signal changes faster than ``max_rate_per_s`` between readings."""

    type: Literal["rate"]
    max_rate_per_s: float = Field(gt=0)
    direction: Literal["rising", "falling", "both"] = "both"


class StaleRule(_SingleSignal):
    """Active when no reading arrives for ``timeout_s`` or the value is frozen."""

    type: Literal["stale"]
    timeout_s: float = Field(gt=0)
    frozen_s: float | None = Field(None, gt=0)
    """Active when the value moves less than ``tolerance`` for this long."""
    tolerance: float = Field(0.0, ge=0)


class ExpressionRule(_Rule):
    """Active while ``expr`` holds, e.g. ``cnc-01.guard_open and cnc-01.spindle_speed > 0``."""

    type: Literal["expression"]
    expr: str
    on_delay_s: float = Field(0.0, ge=0)
    off_delay_s: float = Field(0.0, ge=0)

    @property
    def parsed(self) -> Expr:
        """The parsed expression."""
        return parse_expr(self.expr)

    def inputs(self) -> frozenset[tuple[str, str]]:
        """Every (asset, signal) pair the expression names."""
        return self.parsed.signals


class TwaRule(_SingleSignal):
    """Time-weighted average over a trailing window above ``limit`` (TWA 8 h, STEL 15 min).

    As in occupational exposure standards the integral is divided by the whole window
    (unmeasured time counts as zero exposure), each value held until the next reading.
    """

    type: Literal["twa"]
    window_s: float = Field(gt=0)
    limit: float


Rule = Annotated[
    ThresholdRule | RateRule | StaleRule | ExpressionRule | TwaRule, Field(discriminator="type")
]


class SafetyConfig(BaseModel):
    """The validated ``[safety]`` table.

    Examples:
        >>> cfg = parse_safety({"rules": {"hot": {"type": "threshold",
        ...     "signal": "press-01.oil_temp", "above": 90, "deadband": 5}}})
        >>> cfg.rules[0].id, cfg.rules[0].severity
        ('hot', 3)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_timeout_s: float = Field(300.0, ge=0)
    """Fail closed when a rule's input is silent this long (0 turns the watchdog off)."""
    max_shelve_s: float = Field(8 * 3600.0, gt=0)
    """The longest an operator may shelve an alarm (ISA-18.2 §10.6)."""
    rules: tuple[Rule, ...] = ()

    def timeout_for(self, rule: _Rule) -> float:
        """The input watchdog timeout of ``rule`` in seconds (0 means none)."""
        return self.input_timeout_s if rule.input_timeout_s is None else rule.input_timeout_s


_FIXES = {
    "type": "one of threshold, rate, stale, expression, twa",
    "priority": "one of low, medium, high, urgent",
}


def _path(loc: tuple[int | str, ...], names: list[str]) -> str:
    parts: list[str] = ["safety"]
    items = list(loc)
    if len(items) >= 2 and items[0] == "rules" and isinstance(items[1], int):
        parts += ["rules", names[items[1]]]
        items = [i for i in items[2:] if i not in _TYPES]
    parts += [str(i) for i in items]
    return ".".join(parts)


_TYPES = ("threshold", "rate", "stale", "expression", "twa")


def parse_safety(raw: dict[str, Any], plant: PlantModel | None = None) -> SafetyConfig:
    """Validates a raw ``[safety]`` table; checks signals against ``plant`` when given.

    Raises:
        ConfigError: one line per problem, naming the key path, the value and the fix.
    """
    data = dict(raw)
    rules_raw = data.get("rules", {})
    if not isinstance(rules_raw, dict):
        raise ConfigError(
            f"safety.rules: expected a table of rules, got {rules_raw!r}; "
            "write [safety.rules.<id>] tables"
        )
    names = list(rules_raw)
    rules: list[object] = []
    for name, body in rules_raw.items():
        if not isinstance(body, dict):
            raise ConfigError(
                f"safety.rules.{name}: expected a table, got {body!r}; "
                f"write [safety.rules.{name}] with a `type`"
            )
        rules.append({**body, "id": name})
    data["rules"] = rules
    try:
        config = SafetyConfig.model_validate(data)
    except ValidationError as err:
        problems = []
        for e in err.errors():
            key = _path(e["loc"], names)
            fix = _FIXES.get(str(e["loc"][-1]) if e["loc"] else "", e["msg"])
            problems.append(f"{key}: got {e.get('input')!r}; {fix}")
        raise ConfigError("invalid [safety] table:\n  - " + "\n  - ".join(problems)) from None
    for rule in config.rules:
        _check_rule(rule, plant)
    return config


def _check_rule(rule: _Rule, plant: PlantModel | None) -> None:
    for field in ("expr", "suppress_when"):
        text = getattr(rule, field, None)
        if text is not None:
            try:
                parse_expr(text)
            except ConfigError as err:
                raise ConfigError(f"safety.rules.{rule.id}.{field}: {err}") from None
    if plant is None:
        return
    for asset, signal in sorted(rule.inputs()):
        if plant.find_signal(asset, signal) is None:
            raise ConfigError(
                f"safety.rules.{rule.id}: unknown signal {asset + '.' + signal!r}; "
                "name a signal declared under [[lines.assets]] as asset.signal"
            )
