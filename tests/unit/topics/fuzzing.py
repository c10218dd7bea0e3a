"""Hypothesis strategies for the decoders' fuzz tests: valid payloads generated from a
contract's own JSON Schema, hostile mutations of them, and the checks on what gets accepted.

Generating from the exported schema rather than from the models tests two promises at once:
what the schema admits decodes (a producer validating against it is not dead-lettered), and
whatever bytes arrive, decoding ends in a model or a contract error.

hypothesis-jsonschema does not run with the Hypothesis this project pins (its object
generator calls an internal API that Hypothesis has since removed), so this is a small
generator for the keywords pydantic writes. A keyword it does not know fails the test instead
of being ignored: a new kind of constraint must be taught here, not silently skipped.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any
from uuid import UUID

from hypothesis import strategies as st

from topics.contracts.base import INT64_MAX, MAX_INTEGER_DIGITS, TS_MAX, TS_MIN

__all__ = [
    "Pairs",
    "Raw",
    "assert_closed_values",
    "from_schema",
    "hostile_values",
    "mutated",
    "render",
]

# -- valid payloads from a JSON Schema ----------------------------------------------------------
_ANNOTATIONS = frozenset({
    "title", "description", "default", "discriminator", "examples", "$schema", "$id", "$defs",
    "maxDecimalPlaces", "maxIntegerDigits", "formatMinimum", "formatExclusiveMaximum",
})
_KEYWORDS = _ANNOTATIONS | {
    "$ref", "anyOf", "oneOf", "const", "enum", "type", "format", "pattern", "minLength",
    "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "items",
    "prefixItems", "minItems", "maxItems", "properties", "required", "additionalProperties",
    "patternProperties", "propertyNames", "maxProperties", "minProperties",
}
_MAX_COLLECTION = 4  # keep examples small: a decoder bug shows on 4 levels as on 5000


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid against ``schema`` (the subset of JSON Schema 2020-12 pydantic writes)."""
    defs: dict[str, Any] = schema.get("$defs", {})
    refs: dict[str, st.SearchStrategy[Any]] = {}

    def ref(name: str) -> st.SearchStrategy[Any]:
        if name not in refs:
            refs[name] = st.deferred(lambda: build(defs[name]))
        return refs[name]

    def build(node: dict[str, Any]) -> st.SearchStrategy[Any]:
        unknown = set(node) - _KEYWORDS
        if unknown:
            raise ValueError(f"the schema generator does not know {sorted(unknown)}: teach it")
        if "$ref" in node:
            return ref(node["$ref"].removeprefix("#/$defs/"))
        if "maxDecimalPlaces" in node:
            return _decimal(node)
        for combinator in ("anyOf", "oneOf"):
            if combinator in node:
                return st.one_of([build(branch) for branch in node[combinator]])
        if "const" in node:
            return st.just(node["const"])
        if "enum" in node:
            return st.sampled_from(node["enum"])
        kind = node.get("type")
        if kind == "string":
            return _string(node)
        if kind == "integer":
            return _integer(node)
        if kind == "number":
            return st.floats(node.get("minimum"), node.get("maximum"), allow_nan=False,
                             allow_infinity=False)
        if kind == "boolean":
            return st.booleans()
        if kind == "null":
            return st.none()
        if kind == "array":
            return _array(node, build)
        if kind == "object":
            return _object(node, build)
        raise ValueError(f"the schema generator does not know type {kind!r}")

    return build(schema)


def _mend_candle(payload: Any) -> Any:
    """A candle whose prices and window are put in order: drawn independently, the four
    prices are in order once in 12 draws and the window once in 2."""
    if not isinstance(payload, dict):
        return payload
    mended = dict(payload)
    prices = [mended.get(name) for name in ("open", "high", "low", "close")]
    if all(isinstance(price, str | int) for price in prices):
        ordered = sorted(prices, key=lambda price: Decimal(str(price)))
        mended["low"], mended["high"] = ordered[0], ordered[-1]
        mended["open"], mended["close"] = ordered[1], ordered[2]
    start, end = mended.get("window_start"), mended.get("window_end")
    if (isinstance(start, str) and isinstance(end, str)
            and datetime.fromisoformat(end) < datetime.fromisoformat(start)):
        mended["window_start"], mended["window_end"] = end, start
    return mended


# Per topic, a mend that puts a generated payload in line with the contract's rules across
# fields (which JSON Schema does not carry), so that every run decodes some of them.
CROSS_FIELD_MENDS: dict[str, Any] = {"md.candles": _mend_candle}


def _string(node: dict[str, Any]) -> st.SearchStrategy[str]:
    fmt = node.get("format")
    low, high = node.get("minLength", 0), node.get("maxLength")
    if fmt == "date-time":
        strategy = timestamps(_instant(node.get("formatMinimum"), TS_MIN),
                              _instant(node.get("formatExclusiveMaximum"), TS_MAX))
    elif fmt == "uuid":
        strategy = st.uuids().map(str)
    elif fmt is not None:
        raise ValueError(f"the schema generator does not know format {fmt!r}")
    elif "pattern" in node and node["pattern"].startswith("^[^"):
        # "anything but these characters": plain text, kept if the pattern admits it (and
        # ten times faster to draw than from the regex)
        admits = re.compile(node["pattern"]).fullmatch
        return st.text(min_size=low, max_size=high if high is not None else 40).filter(admits)
    elif "pattern" in node:
        strategy = st.from_regex(node["pattern"], fullmatch=True)
    else:
        return st.text(min_size=low, max_size=high if high is not None else 40)
    if low or high is not None:
        strategy = strategy.filter(lambda s: low <= len(s) <= (high or len(s)))
    return strategy


def _decimal(node: dict[str, Any]) -> st.SearchStrategy[str | int]:
    """A decimal type's schema (a string pattern or an integer, see ``decimal_type``): text
    drawn from its limits, kept only if its own pattern admits it; or the integer."""
    [text, integer] = node["anyOf"]
    assert text["type"] == "string" and integer["type"] == "integer", node
    places, lowest = node["maxDecimalPlaces"], integer["minimum"]
    nonzero_fraction = st.integers(1, places).flatmap(
        lambda n: st.integers(1, 10**n - 1).map(lambda f: "." + str(f).rjust(n, "0")))
    fraction = st.just("") | nonzero_fraction
    whole = st.integers(1, integer["maximum"]).map(str)
    texts = st.builds(str.__add__, whole, fraction) | nonzero_fraction.map("0".__add__)
    if lowest <= 0:  # zero too, and below it
        texts |= st.builds(str.__add__, st.just("0"), fraction)
    if lowest < 0:
        texts = st.builds(str.__add__, st.sampled_from(["", "-"]), texts)
    return texts.filter(re.compile(text["pattern"]).fullmatch) | _integer(integer)


def _instant(text: str | None, default: datetime) -> datetime:
    return default if text is None else datetime.fromisoformat(text)


def timestamps(lowest: datetime = TS_MIN, beyond: datetime = TS_MAX) -> st.SearchStrategy[str]:
    """RFC 3339 text of instants in [lowest, beyond), with any offset and precision."""

    def text(instant: datetime, offset_min: int, spec: str) -> str:
        offset = timedelta(minutes=offset_min)
        local = (instant + offset).replace(tzinfo=None).isoformat(timespec=spec)
        if offset_min == 0:
            return local + "Z"
        sign = "+" if offset_min > 0 else "-"
        return f"{local}{sign}{abs(offset_min) // 60:02d}:{abs(offset_min) % 60:02d}"

    instants = st.datetimes(min_value=lowest.replace(tzinfo=None),
                            max_value=(beyond - timedelta(microseconds=1)).replace(tzinfo=None)
                            ).map(lambda d: d.replace(tzinfo=UTC))
    return st.builds(text, instants, st.integers(-(23 * 60 + 59), 23 * 60 + 59),
                     st.sampled_from(["seconds", "milliseconds", "microseconds"]))


def _integer(node: dict[str, Any]) -> st.SearchStrategy[int]:
    low = node.get("minimum")
    high = node.get("maximum")
    if "exclusiveMinimum" in node:
        low = node["exclusiveMinimum"] + 1
    if "exclusiveMaximum" in node:
        high = node["exclusiveMaximum"] - 1
    return st.integers(low, high)


def _array(node: dict[str, Any], build: Any) -> st.SearchStrategy[list[Any]]:
    if "prefixItems" in node:
        prefix = node["prefixItems"]
        assert node.get("minItems", len(prefix)) == node.get("maxItems", len(prefix)) \
            == len(prefix), "only fixed-length tuples are generated"
        return st.tuples(*(build(item) for item in prefix)).map(list)
    low = node.get("minItems", 0)
    high = max(low, min(node.get("maxItems", _MAX_COLLECTION), _MAX_COLLECTION))
    return st.lists(build(node.get("items", {"type": "null"})), min_size=low, max_size=high)


def _object(node: dict[str, Any], build: Any) -> st.SearchStrategy[dict[str, Any]]:
    properties = node.get("properties", {})
    extra = node.get("additionalProperties")
    patterned = node.get("patternProperties", {})
    if properties:
        assert not patterned and extra in (None, False), "a record or a map, not both"
        required = set(node.get("required", ()))
        return st.fixed_dictionaries(
            {name: build(sub) for name, sub in properties.items() if name in required},
            optional={name: build(sub) for name, sub in properties.items()
                      if name not in required})
    if patterned:
        assert len(patterned) == 1 and extra is False, "a map's keys are one pattern, no others"
        [(pattern, values)] = patterned.items()
        keys: st.SearchStrategy[str] = st.from_regex(pattern, fullmatch=True)
    elif isinstance(extra, dict):
        names = node.get("propertyNames", {})
        keys = st.from_regex(names["pattern"], fullmatch=True) if "pattern" in names \
            else st.text(max_size=20)
        values = extra
    else:
        return st.just({})
    high = max(node.get("minProperties", 0),
               min(node.get("maxProperties", _MAX_COLLECTION), _MAX_COLLECTION))
    return st.dictionaries(keys, build(values), min_size=node.get("minProperties", 0),
                           max_size=high)


# -- hostile JSON -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Raw:
    """JSON text written as is: a NaN literal, ``1E+100`` as a number, deep nesting, a lone
    surrogate escape — what ``json.dumps`` will not write."""

    text: str


@dataclass(frozen=True)
class Pairs:
    """An object written with exactly these members, duplicate keys included."""

    members: tuple[tuple[str, Any], ...]


def render(value: Any) -> str:
    """JSON text of ``value``, with :class:`Raw` and :class:`Pairs` written as they say."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Pairs | dict):
        members = value.members if isinstance(value, Pairs) else value.items()
        return "{" + ",".join(f"{json.dumps(k)}:{render(v)}" for k, v in members) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(render(v) for v in value) + "]"
    return json.dumps(value)  # floats: NaN and Infinity come out as those literals


def _nested(depth: int, inner: str = "1") -> Raw:
    return Raw("[" * depth + inner + "]" * depth)


#: Strings that broke, or could break, a decoder: timestamps at and beyond the edges of the
#: range and of ``datetime``, decimal spellings, ids with control characters.
EDGE_STRINGS: tuple[str, ...] = (
    "9999-12-31T23:59:59.999999-23:59", "0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z", "1969-12-31T23:59:59.999999Z", "1970-01-01T00:30:00+01:00",
    "2199-12-31T23:00:00-05:00", "2200-01-01T00:00:00Z", "2026-02-30T00:00:00Z",
    "2026-11-23T24:00:00Z", "2026-11-23T12:00:60Z", "2026-11-23T12:00:00", "2026-11-23",
    "2026-11-23T12:00:00.1234567Z", "2026-11-23T12:00:00+24:00", "1700000000", "-1",
    "1E+100", "1e-30", "-0", "0E-1000000", "0E+1000000", "1E+999999999999999999",
    "1E-999999999999999999", "99999999999999999999.999999999999999999",
    "100000000000000000000", "0.0000000000000000001", "1.0000000000000000000000000", "NaN",
    "-Infinity", "sNaN", "Infinity", " 1", "1 ", "1_000", "\u0661", "\uff11", "0x10", ".", "+",
    "+1", "1.", ".5", "1e", "9" * 120, "", " ", "\x00", "a\x00b", "\t", "\u2028", "\ufeff",
    "x" * 201, "x" * 1001, "true", "null", "BTC-USDT", "BTC-" + "1" * 80,
)
_RAW_TEXTS = (
    "NaN", "Infinity", "-Infinity", "1E+100", "1e-30", "-0", "-0.0", "1e400", "-1e400",
    "4.9e-324", "0.1000000000000000055511151231257827", "123456789012345678.123456789012345678",
    "1" + "0" * 400, "1" + "0" * 5000, str(2**63), str(2**63 - 1), str(2**64), "-1", "1.0",
    "1e5", '"\\ud800"', '"\\udc00x"', '"a\\ud83d"', '"\\u0000"', '"\\ud83d\\ude00"',
)
#: JSON text the standard encoder never writes: literals, exact or huge numbers, surrogate
#: escapes, nesting deep enough to exhaust a recursive parser.
EDGE_RAW: tuple[Raw, ...] = (
    *(Raw(text) for text in _RAW_TEXTS),
    _nested(50), _nested(5000), _nested(100_000), Raw('{"a":' * 3000 + "1" + "}" * 3000),
)


@cache
def decimal_texts() -> st.SearchStrategy[str]:
    """Decimal text in every notation: plain, exponent, huge and tiny exponents."""
    mantissas = st.integers(-(10**40), 10**40).map(str)
    return st.one_of(
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        st.builds(lambda m, e: f"{m}E{e:+d}", mantissas, st.integers(-(10**7), 10**7)),
        st.builds(lambda m, e: f"{m}e{e}", mantissas,
                  st.sampled_from([-10**18, -400, -30, -19, -18, 19, 20, 400, 10**18])),
    )


@cache
def hostile_values() -> st.SearchStrategy[Any]:
    """Any JSON value, biased to the edges a decoder must refuse (or take) calmly."""
    return st.one_of(
        st.sampled_from(EDGE_STRINGS),
        st.sampled_from(EDGE_RAW),
        decimal_texts(),
        timestamps(datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC)),
        st.integers(-(2**70), 2**70),
        st.floats(),
        st.booleans(),
        st.none(),
        st.text(max_size=30),
        st.lists(st.integers() | st.text(max_size=3), max_size=3),
        st.dictionaries(st.text(max_size=5), st.integers() | st.none(), max_size=2),
    )


def _slots(value: Any) -> Iterator[tuple[Any, Any]]:
    """Every (container, key) of a JSON tree, top-down."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield value, key
            yield from _slots(child)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield value, index
            yield from _slots(child)


_TREE_MUTATIONS = ("replace", "replace", "replace", "drop", "add", "duplicate", "retag")
_BYTE_MUTATIONS = ("none", "none", "none", "truncate", "splice", "invalid_utf8", "bom",
                   "utf16", "whitespace", "top_level", "random")
_BAD_UTF8 = (b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80", b"\xe2\x82")


@st.composite
def mutated(draw: st.DrawFn, payloads: st.SearchStrategy[Any]) -> bytes:
    """A valid payload with one to three hostile changes to its tree, then perhaps its bytes
    mangled: types swapped, fields dropped or added, keys duplicated, numbers and timestamps
    at the edges, deep nesting, truncation, bad encodings, random bytes."""
    tree = copy.deepcopy(draw(payloads))
    for _ in range(draw(st.integers(1, 3))):
        tree = _mutate_tree(draw, tree)
    text = render(tree)
    return _mutate_bytes(draw, text)


def _mutate_tree(draw: st.DrawFn, tree: Any) -> Any:
    how = draw(st.sampled_from(_TREE_MUTATIONS))
    if how == "duplicate":
        return _duplicate_a_key(draw, tree)
    slots = list(_slots(tree))
    if not slots:
        return draw(hostile_values())
    container, key = draw(st.sampled_from(slots))
    if how == "drop" and isinstance(container, dict):
        del container[key]
    elif how == "add" and isinstance(container, dict):
        name = draw(st.text(max_size=12) | st.sampled_from(sorted(container)))
        container[name] = draw(hostile_values())
    elif how == "retag" and isinstance(container, dict) and "type" in container:
        # a discriminator of another variant, a near miss, or none
        container["type"] = draw(st.sampled_from(
            ["submit", "cancel", "amend", "mass_cancel", "fill", "released", "transfer",
             "expired", "premium", "set", "SUBMIT", "", None]))
    else:
        container[key] = draw(hostile_values())
    return tree


def _duplicate_a_key(draw: st.DrawFn, tree: Any) -> Any:
    """One object of the tree written with a key twice (the twin before or after)."""
    objects = [(None, None, tree)] if isinstance(tree, dict) and tree else []
    objects += [(parent, key, parent[key]) for parent, key in _slots(tree)
                if isinstance(parent[key], dict) and parent[key]]
    if not objects:
        return tree
    parent, slot, obj = draw(st.sampled_from(objects))
    members = list(obj.items())
    key = draw(st.sampled_from(sorted(obj)))
    twin = (key, draw(hostile_values() | st.just(obj[key])))
    members.insert(draw(st.integers(0, len(members))), twin)
    written = Pairs(tuple(members))
    if parent is None:
        return written
    parent[slot] = written
    return tree


def _mutate_bytes(draw: st.DrawFn, text: str) -> bytes:
    how = draw(st.sampled_from(_BYTE_MUTATIONS))
    # surrogatepass: a mutation may have put a lone surrogate in a string on purpose
    data = text.encode("utf-8", errors="surrogatepass")
    if how == "truncate":
        return data[:draw(st.integers(0, max(0, len(data) - 1)))]
    if how == "splice":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    if how == "invalid_utf8":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.sampled_from(_BAD_UTF8)) + data[at:]
    if how == "bom":
        return b"\xef\xbb\xbf" + data
    if how == "utf16":
        return text.encode("utf-16", errors="surrogatepass")
    if how == "whitespace":
        return b" \n\t" + data + b"\r\n "
    if how == "top_level":
        return draw(st.sampled_from([b"[" + data + b"]", b"null", b"1", b'"x"', b"true",
                                     b"[]", b"{}", b"", data + data, data + b"}"]))
    if how == "random":
        return draw(st.binary(max_size=64))
    return data


# -- what an accepted value may hold ------------------------------------------------------------
def assert_closed_values(value: Any, where: str = "") -> None:
    """Every leaf of an accepted (python-mode dumped) model is storable and in range: finite
    decimals within Decimal(38, 18), UTC timestamps within [TS_MIN, TS_MAX), 64-bit integers,
    text without NUL that encodes as UTF-8."""
    if isinstance(value, dict):
        for key, child in value.items():
            assert_closed_values(child, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for index, child in enumerate(value):
            assert_closed_values(child, f"{where}[{index}]")
    elif isinstance(value, Decimal):
        assert value.is_finite(), where
        if value:
            assert value.adjusted() < MAX_INTEGER_DIGITS, (where, value)
            exponent = value.as_tuple().exponent
            assert isinstance(exponent, int) and exponent >= -18, (where, value)
        assert len(format(value, "f")) <= 42, (where, value)
    elif isinstance(value, datetime):
        assert value.tzinfo is not None and value.utcoffset() == timedelta(0), where
        assert TS_MIN <= value < TS_MAX, (where, value)
    elif isinstance(value, bool) or value is None or isinstance(value, UUID):
        pass
    elif isinstance(value, int):
        assert -INT64_MAX - 1 <= value <= INT64_MAX, (where, value)
    elif isinstance(value, str):
        assert "\x00" not in value and len(value) <= 1000, (where, value[:50])
        value.encode("utf-8")  # no lone surrogate
    else:
        raise AssertionError(f"{where}: unexpected {type(value).__name__} in a contract")
