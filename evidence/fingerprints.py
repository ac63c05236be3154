"""Fingerprints for spotting duplicate evidence: exact (SHA-256, normalised URL) and near (SimHash).

Pure functions; the evidence services store the values and query them. Near-duplicate text is found
with a 64-bit SimHash over word 3-shingles: documents that differ by a word or two land within a few
bits of each other, unrelated ones around 32 bits apart (never closer than about 21 in our samples).
Short texts are noisier: a one-word edit of a 300-word document lands up to 6 or 7 bits away, so the
near-duplicate distance is 6, and the hash is cut into eight 8-bit bands so an index still finds every
candidate within it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections import Counter
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

NEAR_DUPLICATE_DISTANCE = 6
MIN_SIMHASH_WORDS = 20
SHINGLE_WORDS = 3
BITS = 64
MASK64 = (1 << BITS) - 1
BAND_BITS = 8
BANDS = BITS // BAND_BITS

TRACKING_PARAMS = frozenset({"fbclid", "gclid", "mc_cid", "mc_eid", "ref_src"})
DEFAULT_PORTS = frozenset({80, 443})
# RFC 3986 unreserved characters: percent-encoding them changes nothing, so they are decoded.
UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
PATH_SAFE = "/:@!$&'()*+,;=-._~%"
PERCENT_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
HOST_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")  # underscores occur in real host names
NOT_WORD = re.compile(r"[^\w\s]")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# URLs


def normalise_url(url: str) -> str:
    """One spelling per web page, so the same link added twice is recognised.

    Scheme and host lower-cased, http treated as https, "www." and default ports dropped, fragment and
    tracking parameters (utm_*, fbclid, gclid, mc_cid, mc_eid, ref_src) dropped, the other parameters
    sorted, percent-encoding normalised, dot segments resolved and a trailing slash removed (except the
    root). User names and passwords in the URL are dropped: they do not change the page and must not be
    stored. ValueError for anything that is not an http or https URL with a valid host.
    """
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise ValueError(f"“{text}” is not a valid web address: {error}.") from None
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise ValueError(f"“{text}” is not a web address starting http:// or https://.")
    host = _normalise_host(parts.hostname or "", text)
    netloc = host if port is None or port in DEFAULT_PORTS else f"{host}:{port}"
    return urlunsplit(("https", netloc, _normalise_path(parts.path), _normalise_query(parts.query), ""))


def _normalise_host(hostname: str, url: str) -> str:
    host = hostname.lower().rstrip(".")
    if ":" in host:  # urlsplit has already removed the brackets of an IPv6 literal
        try:
            return f"[{ipaddress.IPv6Address(host).compressed}]"
        except ValueError:
            raise ValueError(f"“{url}” has an invalid IPv6 address.") from None
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"“{url}” has no valid host name.") from None
    host = host.removeprefix("www.")
    if not host or not all(HOST_LABEL.match(label) for label in host.split(".")):
        raise ValueError(f"“{url}” has no valid host name.")
    return host


def _normalise_path(path: str) -> str:
    path = PERCENT_ESCAPE.sub(_normalise_escape, path)
    path = quote(path, safe=PATH_SAFE)  # encodes spaces and non-ASCII, keeps existing escapes
    path = _remove_dot_segments(path)
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    return path or "/"


def _normalise_escape(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in UNRESERVED else f"%{match.group(1).upper()}"


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, so "/a/./b/../c" and "/a/c" compare equal."""
    output: list[str] = []
    segments = path.split("/")
    for segment in segments[1:] if path.startswith("/") else segments:
        if segment == "..":
            if output:
                output.pop()
        elif segment != ".":
            output.append(segment)
    trailing = "/" if segments[-1] in {".", ".."} else ""
    return "/" + "/".join(output) + trailing


def _normalise_query(query: str) -> str:
    params = [(key, value) for key, value in parse_qsl(query, keep_blank_values=True) if not _is_tracking(key)]
    return urlencode(sorted(params), quote_via=quote, safe="-._~")


def _is_tracking(key: str) -> bool:
    key = unquote(key).lower()
    return key.startswith("utm_") or key in TRACKING_PARAMS


# SimHash


def simhash(text: str) -> int | None:
    """A 64-bit SimHash over word 3-shingles, as a signed integer so it fits a BigIntegerField.

    The text is lower-cased, punctuation removed and whitespace collapsed first, so layout and
    punctuation do not matter. Each distinct shingle votes with its number of occurrences. The shingle
    hash is blake2b (8 bytes), not Python's hash(), which changes between processes. A bit of the result
    is set when shingles with that bit set outnumber those without. None for fewer than
    20 words: short texts differ in too few shingles to compare meaningfully.
    """
    words = NOT_WORD.sub("", text.lower()).split()
    if len(words) < MIN_SIMHASH_WORDS:
        return None
    shingles = Counter(" ".join(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1))
    weights = ((_shingle_hash(shingle), count) for shingle, count in shingles.items())
    total = sum(shingles.values())
    # A bit is set when more shingles (by count) have it set than not.
    unsigned = sum(1 << bit for bit, ones in enumerate(_bit_counts(weights)) if 2 * ones > total)
    return to_signed(unsigned)


def _shingle_hash(shingle: str) -> int:
    return int.from_bytes(hashlib.blake2b(shingle.encode(), digest_size=8).digest(), "big")


def _bit_counts(weighted: Iterable[tuple[int, int]]) -> list[int]:
    """For each of the 64 bits, least significant first, the total weight of the values that have it set.

    Counting whole bytes and splitting them into bits afterwards does 8 steps per value instead of 64,
    which matters for documents of tens of thousands of words.
    """
    per_byte: list[Counter[int]] = [Counter() for _ in range(BITS // 8)]
    for value, weight in weighted:
        for position, byte in enumerate(value.to_bytes(BITS // 8, "little")):
            per_byte[position][byte] += weight
    counts = [0] * BITS
    for position, bytes_seen in enumerate(per_byte):
        for byte, weight in bytes_seen.items():
            for bit in range(8):
                if byte >> bit & 1:
                    counts[position * 8 + bit] += weight
    return counts


def to_signed(value: int) -> int:
    """The signed 64-bit integer with the same bit pattern."""
    value &= MASK64
    return value - (1 << BITS) if value >> (BITS - 1) else value


def simhash_bands(value: int) -> tuple[int, ...]:
    """The hash split into eight 8-bit bands (0..255), most significant first, for indexed lookup.

    Two hashes within Hamming distance 7 differ in at most seven bits, so in at most seven bands; by the
    pigeonhole principle they share at least one band exactly. Looking up each band therefore finds every
    candidate within NEAR_DUPLICATE_DISTANCE; `is_near_duplicate` then checks the full distance.
    """
    if not -(1 << (BITS - 1)) <= value <= MASK64:
        raise ValueError(f"{value} is not a 64-bit value.")
    unsigned = value & MASK64
    mask = (1 << BAND_BITS) - 1
    return tuple(unsigned >> (BITS - BAND_BITS * (index + 1)) & mask for index in range(BANDS))


def hamming(a: int, b: int) -> int:
    """Number of differing bits between the 64-bit two's complement patterns of a and b."""
    return ((a ^ b) & MASK64).bit_count()


def is_near_duplicate(a: int | None, b: int | None) -> bool:
    if a is None or b is None:
        return False
    return hamming(a, b) <= NEAR_DUPLICATE_DISTANCE
