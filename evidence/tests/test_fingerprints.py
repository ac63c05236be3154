"""Duplicate fingerprints: URL normalisation, SimHash and its bands."""

from __future__ import annotations

import random

import pytest

from evidence.fingerprints import (
    NEAR_DUPLICATE_DISTANCE,
    hamming,
    is_near_duplicate,
    normalise_url,
    sha256_hex,
    simhash,
    simhash_bands,
    to_signed,
)


def one_line(text: str) -> str:
    return " ".join(text.split())


# 300 words, the length of a typical short policy.
POLICY = one_line(
    """
Access control policy. This policy sets out how Harbour Lane Accountants Limited gives, reviews and removes
access to its systems and information. It applies to every employee, contractor and volunteer who uses a
company laptop, phone or online service, and to the suppliers who manage those services on our behalf.
Access is granted on the principle of least privilege: each person receives only the accounts and permissions
needed for their current role, and nothing more. A manager requests new access through the IT helpdesk form,
naming the systems required and the reason. The office manager approves the request before any account is
created, and records the decision in the access register kept on the shared drive. Administrator accounts are
separate from everyday accounts and are used only for administration tasks. Every account must use a strong
password of at least twelve characters and two-step verification through the authenticator app on a company
phone. Text message codes are accepted only where a service offers nothing stronger. Shared accounts are not
allowed, except for the reception mailbox, which is protected by the same controls and reviewed monthly.
When someone changes role, their manager tells the helpdesk within two working days so that permissions no
longer needed can be removed. When someone leaves, all of their accounts are disabled on their last working
day, company devices are collected, and any shared passwords they knew are changed within one week. Every
three months the office manager compares the list of active accounts in Google Workspace, the accounting
system and the payroll service with the staff list from human resources, and removes anything that cannot be
explained. The review is signed off by a director and kept for two years as evidence for our auditors. Breaches
of this policy are handled under the disciplinary procedure.
"""
)

BACKUP_LOG = one_line(
    """
Backup report for the file server, week ending Friday. The nightly job copied the finance, payroll and client
folders to the encrypted cloud vault between one and three in the morning on each of the five working nights.
Monday and Tuesday completed without warnings. On Wednesday two files were skipped because a spreadsheet was
left open on the reception computer; they were copied the following night. Thursday and Friday completed
without warnings. The restore test picked a random folder from last month, restored it to a spare laptop and
compared checksums: every file matched. The oldest copy now held is ninety days old, as the retention rule
requires. Storage used rose by four percent, well within the plan. No action is needed before next week.
"""
)


def test_sha256_hex_matches_the_published_test_vector():
    assert sha256_hex(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


# URLs


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("https://example.com/policy", "https://example.com/policy"),
        ("http://example.com/policy", "https://example.com/policy"),
        ("HTTPS://Example.COM/Policy", "https://example.com/Policy"),  # paths are case-sensitive
        ("https://www.example.com/policy", "https://example.com/policy"),
        ("https://example.com:443/policy", "https://example.com/policy"),
        ("http://example.com:80/policy", "https://example.com/policy"),
        ("https://example.com:8443/policy", "https://example.com:8443/policy"),
        ("https://example.com/policy#section-2", "https://example.com/policy"),
        ("https://example.com/policy/", "https://example.com/policy"),
        ("https://example.com/", "https://example.com/"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com?b=2&a=1", "https://example.com/?a=1&b=2"),
        ("https://example.com/p?utm_source=news&utm_Medium=mail&id=7&fbclid=x&gclid=y", "https://example.com/p?id=7"),
        ("https://example.com/p?mc_cid=1&mc_eid=2&ref_src=twsrc&q=mfa", "https://example.com/p?q=mfa"),
        ("https://example.com/p?utm_source=news", "https://example.com/p"),
        ("https://example.com/%7Euser/%e2%82%ac", "https://example.com/~user/%E2%82%AC"),
        ("https://example.com/€ report", "https://example.com/%E2%82%AC%20report"),
        ("https://example.com/a/./b/../c/", "https://example.com/a/c"),
        ("https://example.com/search?q=two+step&q2=two%20step", "https://example.com/search?q=two%20step&q2=two%20step"),
        ("  https://example.com/policy  ", "https://example.com/policy"),
        ("https://user:secret@example.com/policy", "https://example.com/policy"),
        ("https://bücher.example/", "https://xn--bcher-kva.example/"),
        ("https://Example.com./policy", "https://example.com/policy"),
        ("http://[2001:DB8::0001]:8080/x", "https://[2001:db8::1]:8080/x"),
        ("https://docs.google.com/document/d/1AbC/edit?usp=sharing", "https://docs.google.com/document/d/1AbC/edit?usp=sharing"),
    ],
)  # fmt: skip
def test_normalise_url(url, normalised):
    assert normalise_url(url) == normalised


def test_normalising_twice_changes_nothing():
    once = normalise_url("HTTP://www.Example.com:80/a/%7eb/?utm_source=x&z=1&a=%2F#top")
    assert normalise_url(once) == once


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "is not a web address starting http:// or https://"),
        ("example.com/policy", "is not a web address starting http:// or https://"),
        ("ftp://example.com/policy.pdf", "is not a web address starting http:// or https://"),
        ("mailto:office@example.com", "is not a web address starting http:// or https://"),
        ("javascript:alert(1)", "is not a web address starting http:// or https://"),
        ("file:///etc/passwd", "is not a web address starting http:// or https://"),
        ("https://", "has no valid host name"),
        ("https:///policy", "has no valid host name"),
        ("https://-bad-.example/policy", "has no valid host name"),
        ("https://a..example/policy", "has no valid host name"),
        ("https://exa mple.com/", "has no valid host name"),
        ("https://example.com:99999/", "is not a valid web address"),
        ("https://example.com:http/", "is not a valid web address"),
        ("http://[::1/", "is not a valid web address"),
    ],
)
def test_invalid_urls_are_refused_with_a_clear_message(url, message):
    with pytest.raises(ValueError, match=message):
        normalise_url(url)


# SimHash


def test_same_text_gives_the_same_hash_in_every_process():
    # Pinned: stored hashes must stay comparable across releases and processes (no Python hash()).
    assert simhash(POLICY) == simhash(POLICY) == -5565816601633718803


def test_case_punctuation_and_layout_do_not_change_the_hash():
    shouted = POLICY.upper().replace(" ", "\n  ").replace(".", " !")
    assert simhash(shouted) == simhash(POLICY)


def test_a_one_word_edit_in_a_300_word_policy_is_a_near_duplicate():
    assert len(POLICY.split()) == 300
    edited = POLICY.replace("at least twelve characters", "at least fourteen characters")
    assert edited != POLICY
    assert hamming(simhash(POLICY), simhash(edited)) <= NEAR_DUPLICATE_DISTANCE
    assert is_near_duplicate(simhash(POLICY), simhash(edited))


def one_word_edit_distances(words: int, documents: int) -> list[int]:
    vocabulary = sorted(set(POLICY.lower().split()) | set(BACKUP_LOG.lower().split()))
    rng = random.Random(5)
    distances = []
    for _ in range(documents):
        text = rng.choices(vocabulary, k=words)
        before = simhash(" ".join(text))
        text[rng.randrange(words)] = "replaced"
        distances.append(hamming(before, simhash(" ".join(text))))  # type: ignore[arg-type]
    return distances


def test_one_word_edits_in_300_words_are_nearly_always_near_duplicates():
    # A one-word edit changes 3 of 298 shingles. With so few shingles a 64-bit SimHash flips about
    # 2.8 bits on average and up to 6 or 7, which is why the near-duplicate distance is 6, not 3.
    distances = one_word_edit_distances(words=300, documents=200)
    assert sum(distance <= NEAR_DUPLICATE_DISTANCE for distance in distances) / len(distances) >= 0.95
    assert sum(distances) / len(distances) < 3.5


def test_one_word_edits_in_longer_documents_are_near_duplicates():
    distances = one_word_edit_distances(words=3000, documents=30)
    assert sum(distance <= NEAR_DUPLICATE_DISTANCE for distance in distances) / len(distances) >= 0.95


def test_unrelated_documents_are_far_apart():
    assert hamming(simhash(POLICY), simhash(BACKUP_LOG)) > 10
    assert not is_near_duplicate(simhash(POLICY), simhash(BACKUP_LOG))
    vocabulary = sorted(set(POLICY.lower().split()) | set(BACKUP_LOG.lower().split()))
    rng = random.Random(6)
    hashes = [simhash(" ".join(rng.choices(vocabulary, k=300))) for _ in range(40)]
    distances = [hamming(a, b) for i, a in enumerate(hashes) for b in hashes[i + 1 :]]  # type: ignore[arg-type]
    assert min(distances) > 10


def test_short_text_has_no_hash():
    assert simhash("") is None
    assert simhash("MFA is on for everyone.") is None
    nineteen = " ".join(f"word{n}" for n in range(19))
    assert simhash(nineteen) is None
    assert simhash(nineteen + " more") is not None
    assert simhash(nineteen + " !!! ---") is None  # punctuation is not a word


def test_hash_fits_a_signed_64_bit_column():
    rng = random.Random(3)
    words = POLICY.split()
    hashes = [simhash(" ".join(rng.sample(words, 40))) for _ in range(200)]
    assert all(value is not None and -(2**63) <= value < 2**63 for value in hashes)
    assert any(value is not None and value < 0 for value in hashes)  # the top bit is used, not dropped


# Hamming distance and bands


def test_hamming_compares_two_complement_bit_patterns():
    assert hamming(0, 0) == 0
    assert hamming(0, -1) == 64
    assert hamming(-1, 2**64 - 1) == 0
    assert hamming(to_signed(2**63), 2**63) == 0
    assert hamming(0b1011, 0b0001) == 2


def test_near_duplicate_needs_both_hashes_within_six_bits():
    assert is_near_duplicate(0, 0b111111)
    assert not is_near_duplicate(0, 0b1111111)
    assert not is_near_duplicate(None, 0)
    assert not is_near_duplicate(0, None)
    assert not is_near_duplicate(None, None)


def test_bands_are_eight_8_bit_slices_of_the_pattern():
    value = to_signed(0xFEDC_BA98_7654_3210)
    assert value < 0
    assert simhash_bands(value) == (0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10)
    assert simhash_bands(0xFEDC_BA98_7654_3210) == simhash_bands(value)
    assert simhash_bands(-1) == (255,) * 8
    assert simhash_bands(0) == (0,) * 8


def test_bands_refuse_values_outside_64_bits():
    with pytest.raises(ValueError, match="not a 64-bit value"):
        simhash_bands(2**64)
    with pytest.raises(ValueError, match="not a 64-bit value"):
        simhash_bands(-(2**63) - 1)


def test_hashes_within_seven_bits_always_share_a_band():
    rng = random.Random(11)
    for _ in range(5000):
        a = to_signed(rng.getrandbits(64))
        flips = rng.sample(range(64), rng.randint(0, 7))
        b = to_signed(a ^ sum(1 << bit for bit in flips))
        assert hamming(a, b) == len(flips)
        assert any(x == y for x, y in zip(simhash_bands(a), simhash_bands(b), strict=True))


def test_eight_bits_apart_can_share_no_band():
    # The guarantee stops at 7: one flipped bit in each band leaves nothing in common.
    a = to_signed(0x0123_4567_89AB_CDEF)
    b = to_signed(0x0123_4567_89AB_CDEF ^ sum(1 << shift for shift in range(0, 64, 8)))
    assert hamming(a, b) == 8
    assert all(x != y for x, y in zip(simhash_bands(a), simhash_bands(b), strict=True))
