"""answer_channel.py: only the one reply signed with the run's key is a payload; the rest is tampering."""

from __future__ import annotations

import hashlib
import hmac

from grader import answer_channel

KEY, OTHER = b"k" * 32, b"o" * 32


def _signed(payload_text: str, key: bytes = KEY) -> dict:
    return {"data": {"payload": payload_text, "mac": hmac.new(key, payload_text.encode(), hashlib.sha256).hexdigest()}}


def test_answer_message_must_carry_the_runs_signature():
    assert answer_channel.verified(_signed('{"values": {}}'), KEY) == ({"values": {}}, "")
    assert answer_channel.verified(_signed('{"values": {}}', OTHER), KEY) == (
        None, "an answer message whose signature does not verify (forged or altered)")
    assert answer_channel.verified({"data": {"payload": "{}"}}, KEY) == (
        None, "an answer message without the grader's signature")
    assert answer_channel.verified(_signed("[1]"), KEY) == (None, "a signed answer that is not a JSON object")


def test_guard_report_becomes_tampering_lines():
    payload = {"values": {}, "integrity": ["json.dumps was replaced or deleted", 3]}
    assert answer_channel.integrity_problems(payload) == ("changed in the kernel: json.dumps was replaced or deleted",)
    assert payload == {"values": {}}


def test_a_forged_message_beside_the_real_answer_is_tampering_and_the_answer_stands():
    answer = answer_channel._answer([{"values": {"a": 1}}], ["an answer message without the grader's signature"])
    assert answer.payload == {"values": {"a": 1}}
    assert answer.tampering == ("answer channel: an answer message without the grader's signature",)


def test_two_signed_answers_fail_closed():
    answer = answer_channel._answer([{"values": {}}, {"values": {}}], [])
    assert answer.payload is None
    assert answer.problem == "the answers could not be read (several answers came back)"
    assert answer.tampering == ("answer channel: several answers came back (its handler was replaced or blocked?)",)
