"""A tiny, safe expression language for combination rules (no ``eval``).

Grammar (lowest precedence first)::

    expr       := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := operand (("<" | "<=" | ">" | ">=" | "==" | "!=") operand)?
    operand    := NUMBER | "true" | "false" | NAME | "(" expr ")"
    NAME       := asset "." signal      e.g. ``press-01.oil_temp``

A name evaluates to the signal's latest value; in a boolean place a value is true when it
is non-zero (a digital ``guard_open`` of 1.0 reads as true). There are no calls, no
attributes beyond ``asset.signal``, no arithmetic: the evaluator walks a closed set of
node types, so a rule file can never run code.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from factoryax.core import ConfigError

__all__ = ["Expr", "ExpressionError", "MissingSignalError", "parse_expr"]

_TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_\-]*\.[A-Za-z_][A-Za-z0-9_\-]*)"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op><=|>=|==|!=|<|>|\(|\)))"
)
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_WORDS = ("and", "or", "not", "true", "false")


class ExpressionError(ConfigError):
    """An expression does not parse; the message shows where and what was expected."""


class MissingSignalError(LookupError):
    """A signal named in an expression has no value yet (the caller fails closed)."""


@dataclass(frozen=True)
class _Token:
    kind: str  # "num", "name", "word", "op", "end"
    text: str
    pos: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            start = len(text) - len(text[pos:].lstrip())
            raise ExpressionError(
                f"expression {text!r}: unexpected character {text[start]!r} at {start}; "
                "use and/or/not, comparisons, numbers and asset.signal names only"
            )
        kind = m.lastgroup or "op"
        value = m.group(kind)
        if kind == "word" and value not in _WORDS:
            raise ExpressionError(
                f"expression {text!r}: unknown word {value!r} at {m.start(kind)}; "
                "name a signal as asset.signal (e.g. press-01.oil_temp)"
            )
        tokens.append(_Token(kind, value, m.start(kind)))
        pos = m.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


Node = tuple[object, ...]
"""An AST node: ``("num", v)``, ``("sig", asset, signal)``, ``("not", n)``,
``("and", a, b)``, ``("or", a, b)``, ``("cmp", op, a, b)``."""


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def fail(self, tok: _Token, expected: str) -> ExpressionError:
        got = "end of expression" if tok.kind == "end" else repr(tok.text)
        return ExpressionError(
            f"expression {self.text!r}: expected {expected} at {tok.pos}, got {got}"
        )

    def parse(self) -> Node:
        node = self.or_expr()
        if self.peek().kind != "end":
            raise self.fail(self.peek(), "'and', 'or' or the end")
        return node

    def or_expr(self) -> Node:
        node = self.and_expr()
        while self.peek().text == "or" and self.peek().kind == "word":
            self.take()
            node = ("or", node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.not_expr()
        while self.peek().text == "and" and self.peek().kind == "word":
            self.take()
            node = ("and", node, self.not_expr())
        return node

    def not_expr(self) -> Node:
        if self.peek().kind == "word" and self.peek().text == "not":
            self.take()
            return ("not", self.not_expr())
        return self.comparison()

    def comparison(self) -> Node:
        left = self.operand()
        tok = self.peek()
        if tok.kind == "op" and tok.text in _COMPARE:
            self.take()
            return ("cmp", tok.text, left, self.operand())
        return left

    def operand(self) -> Node:
        tok = self.take()
        if tok.kind == "num":
            return ("num", float(tok.text))
        if tok.kind == "name":
            asset, signal = tok.text.split(".", 1)
            return ("sig", asset, signal)
        if tok.kind == "word" and tok.text in ("true", "false"):
            return ("num", 1.0 if tok.text == "true" else 0.0)
        if tok.kind == "op" and tok.text == "(":
            node = self.or_expr()
            close = self.take()
            if close.text != ")":
                raise self.fail(close, "')'")
            return node
        raise self.fail(tok, "a number, true/false, asset.signal or '('")


def _signals(node: Node) -> set[tuple[str, str]]:
    if node[0] == "sig":
        return {(str(node[1]), str(node[2]))}
    out: set[tuple[str, str]] = set()
    for child in node[1:]:
        if isinstance(child, tuple):
            out |= _signals(child)
    return out


def _value(node: Node, values: Mapping[tuple[str, str], float]) -> float:
    kind = node[0]
    if kind == "num":
        return float(node[1])  # type: ignore[arg-type]  # parser stores a float here
    if kind == "sig":
        key = (str(node[1]), str(node[2]))
        if key not in values:
            raise MissingSignalError(f"no value yet for {key[0]}.{key[1]}")
        value = values[key]
        if not math.isfinite(value):
            raise ValueError(f"{key[0]}.{key[1]} is not finite: {value!r}")
        return value
    return 1.0 if _truth(node, values) else 0.0


def _truth(node: Node, values: Mapping[tuple[str, str], float]) -> bool:
    kind = node[0]
    if kind == "and":
        return _truth(node[1], values) and _truth(node[2], values)  # type: ignore[arg-type]  # children are nodes
    if kind == "or":
        return _truth(node[1], values) or _truth(node[2], values)  # type: ignore[arg-type]  # children are nodes
    if kind == "not":
        return not _truth(node[1], values)  # type: ignore[arg-type]  # child is a node
    if kind == "cmp":
        compare = _COMPARE[str(node[1])]
        return compare(_value(node[2], values), _value(node[3], values))  # type: ignore[arg-type]  # children are nodes
    return _value(node, values) != 0.0


@dataclass(frozen=True)
class Expr:
    """A parsed expression: its source text, its AST and the signals it reads.

    Examples:
        >>> e = parse_expr("cnc-01.guard_open and cnc-01.spindle_speed > 100")
        >>> sorted(e.signals)
        [('cnc-01', 'guard_open'), ('cnc-01', 'spindle_speed')]
        >>> e.evaluate({("cnc-01", "guard_open"): 1.0, ("cnc-01", "spindle_speed"): 900.0})
        True
    """

    text: str
    tree: Node
    signals: frozenset[tuple[str, str]]

    def evaluate(self, values: Mapping[tuple[str, str], float]) -> bool:
        """Evaluates the expression over the latest values.

        Raises:
            MissingSignalError: a named signal has no value yet.
            ValueError: a named signal's value is NaN or infinite.
        """
        return _truth(self.tree, values)


def parse_expr(text: str) -> Expr:
    """Parses ``text`` into an :class:`Expr`; raises :class:`ExpressionError` if malformed.

    Examples:
        >>> parse_expr("__import__('os')")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        factoryax.safety.expr.ExpressionError: expression ...: unknown word '__import__' ...
    """
    if not text.strip():
        raise ExpressionError("expression is empty; write e.g. 'press-01.oil_temp > 90'")
    tree = _Parser(text).parse()
    return Expr(text, tree, frozenset(_signals(tree)))
