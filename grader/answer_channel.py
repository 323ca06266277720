"""The grader's end of the signed answer channel (grader/kernel/guard.py is the kernel's end).

The signing key goes to the kernel as comm data before the first student cell; after the
student's cells the request goes as comm data too, and exactly one reply signed with that key is
the payload. Anything else on the channel is a sign of tampering; no reply fails closed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from queue import Empty

from jupyter_core.utils import run_sync

from .failures import one_line
from .kernel.protocol import KEY_TARGET, TARGET
from .model import KernelJob


@dataclass(frozen=True)
class Answer:
    """What came back on the answer channel."""

    payload: dict | None
    problem: str = ""
    """Why there is no payload, for the report."""
    tampering: tuple[str, ...] = ()


def verified(content: dict, key: bytes) -> tuple[dict | None, str]:
    """(payload, "") from a comm_msg signed with key, or (None, what is wrong with it)."""
    data = content.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("payload"), str) or not isinstance(data.get("mac"), str):
        return None, "an answer message without the grader's signature"
    mac = hmac.new(key, data["payload"].encode("utf-8"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(mac, data["mac"]):
        return None, "an answer message whose signature does not verify (forged or altered)"
    try:
        payload = json.loads(data["payload"])
    except (ValueError, RecursionError):
        return None, "a signed answer message that is not JSON"
    return (payload, "") if isinstance(payload, dict) else (None, "a signed answer that is not a JSON object")


def integrity_problems(payload: dict) -> tuple[str, ...]:
    """The kernel-side guard's report, taken out of the payload -> tampering lines."""
    found = payload.pop("integrity", [])
    if not isinstance(found, list):
        return ("the kernel-side guard's report was unreadable",)
    return tuple(f"changed in the kernel: {one_line(p, 200)}" for p in found[:20] if isinstance(p, str))


def content_bytes(content: dict) -> int:
    """Size of a message's content as the output limits count it."""
    try:
        return len(json.dumps(content, default=str))
    except (TypeError, ValueError, RecursionError):
        return len(str(content))


async def _async_send_key(kc, key: bytes, seconds: float = 30) -> None:
    """Hand the signing key to the kernel's guard as data, before the first student cell (see KEY_TARGET)."""
    msg = kc.session.msg("comm_open", {"comm_id": uuid.uuid4().hex, "target_name": KEY_TARGET,
                                       "data": {"key": key.hex()}})
    kc.shell_channel.send(msg)
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        reply = await kc.get_iopub_msg(timeout=left)
        if reply.get("parent_header", {}).get("msg_id") == msg["header"]["msg_id"] and \
                reply.get("msg_type") == "status" and reply.get("content", {}).get("execution_state") == "idle":
            return


send_key = run_sync(_async_send_key)


async def _async_request_answers(kc, job: KernelJob, key: bytes, seconds: float, max_bytes: int) -> Answer:
    """Open a comm to the guard's handler with the request as data and wait for its one signed
    reply. Anything else on that comm is a sign of tampering; no reply fails closed."""
    comm_id = uuid.uuid4().hex
    msg = kc.session.msg("comm_open", {"comm_id": comm_id, "target_name": TARGET, "data": job.request})
    kc.shell_channel.send(msg)
    end, received, replies, problems = time.monotonic() + seconds, 0, [], []
    while (left := end - time.monotonic()) > 0:
        try:
            reply = await kc.get_iopub_msg(timeout=left)
        except Empty:
            return Answer(None, f"the grader's answer-reading step ran past its {seconds:g} s limit")
        if reply.get("parent_header", {}).get("msg_id") != msg["header"]["msg_id"]:
            continue
        content = reply.get("content", {})
        received += content_bytes(content)
        if received > max_bytes:
            return Answer(None, "the answers were larger than the output limit")
        if reply.get("msg_type") == "comm_msg" and content.get("comm_id") == comm_id:
            payload, problem = verified(content, key)
            (replies.append(payload) if payload is not None else problems.append(problem))
        elif reply.get("msg_type") == "status" and content.get("execution_state") == "idle":
            break
    return _answer(replies, problems)


def _answer(replies: list[dict], problems: list[str]) -> Answer:
    """The one signed reply (and what else came on the channel) -> Answer."""
    tampering = tuple(f"answer channel: {p}" for p in problems)
    if len(replies) != 1:
        why = "no answer came back from the grader's code in the kernel" if not replies else "several answers came back"
        return Answer(None, f"the answers could not be read ({why})", tampering + (
            (f"answer channel: {why} (its handler was replaced or blocked?)",) if problems or replies else ()))
    payload = replies[0]
    tampering += integrity_problems(payload)
    if "values" not in payload:
        return Answer(None, "the grader's answer-reading step failed in the kernel ("
                      + one_line(payload.get("error", "no values"), 200) + ")", tampering)
    return Answer(payload, "", tampering)


request_answers = run_sync(_async_request_answers)
