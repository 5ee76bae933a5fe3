"""Hook tokens are random, stored only as a hash, and a message hook posts only where it may."""

from __future__ import annotations

import hashlib

import pytest

from mcs.api.services.hooks import MessageRefused, check_message_topic, hash_token, new_token, token_matches


def test_token_is_32_random_bytes_url_safe():
    tokens = {new_token() for _ in range(100)}

    assert len(tokens) == 100
    assert all(len(token) == 43 and token.replace("-", "").replace("_", "").isalnum() for token in tokens)


def test_stored_hash_is_sha256_of_the_token():
    assert hash_token("abc") == "sha256:" + hashlib.sha256(b"abc").hexdigest()


def test_token_matches_only_its_own_hash():
    token = new_token()
    stored = hash_token(token)

    assert token_matches(token, stored) is True
    assert token_matches(token[:-1] + ("A" if token[-1] != "A" else "B"), stored) is False
    assert token_matches("", stored) is False
    assert token_matches(token, None) is False


@pytest.mark.parametrize(
    ("topic", "message"),
    [
        ("", "`topic` must be a non-empty string"),
        (7, "`topic` must be a non-empty string"),
        ("devices/+/reply", "`topic` must be one exact topic without `+`, `#` or `$`"),
        ("$SYS/x", "`topic` must be one exact topic without `+`, `#` or `$`"),
        ("mcs/workflows/other/command", "`topic` `mcs/workflows/other/command` is a control topic"),
        (
            "devices/d1/status",
            "`topic` `devices/d1/status` is not one this hook may post to; allowed: `devices/+/reply`",
        ),
    ],
)
def test_message_topic_outside_the_allowed_filters_is_refused(topic, message):
    with pytest.raises(MessageRefused) as refused:
        check_message_topic(topic, {"devices/+/reply"})

    assert refused.value.field == "topic"
    assert str(refused.value).startswith(message)


def test_message_topic_matching_an_allowed_filter_is_taken():
    assert check_message_topic("devices/阀门1/reply", {"devices/+/reply"}) == "devices/阀门1/reply"
