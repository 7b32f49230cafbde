"""Where a Realtime response reads and writes (``response.create``'s ``conversation``, ``input``
and ``metadata``): the default conversation, or out of band. As OpenAI documents: ``conversation:
"none"`` writes nothing to the conversation (its item lives in its events only), and several such
responses may run beside the conversation's one; ``input`` gives the response its own context
(new messages, and references to the conversation's items by id) instead of the conversation;
``metadata`` is echoed in the response so that a client tells simultaneous responses apart. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from coordinator.errors import InvalidInputError
from coordinator.server.realtime.items import MAX_ITEMS, Conversation, item_audio, item_from_client

# OpenAI's bounds on metadata: 16 pairs, keys of 64 characters, values of 512.
MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512


@dataclass(frozen=True)
class Target:
    out_of_band: bool = False
    context: Conversation | None = None  # the response's own input; None: the conversation's items
    metadata: dict[str, str] | None = None


def response_target(raw: Any, conversation: Conversation) -> Target:
    """The target a ``response.create``'s ``response`` object names (None: the default)."""
    if not isinstance(raw, dict):
        return Target()
    where = raw.get("conversation", "auto")
    if where not in ("auto", "none", None):
        raise InvalidInputError(
            "response.conversation must be 'auto' (the session's conversation) or 'none' (out of band)",
            param="response.conversation",
        )
    return Target(
        out_of_band=where == "none",
        context=_context(raw.get("input"), conversation),
        metadata=_metadata(raw.get("metadata")),
    )


def _context(raw: Any, conversation: Conversation) -> Conversation | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or len(raw) > MAX_ITEMS:
        raise InvalidInputError(
            f"response.input must be a list of at most {MAX_ITEMS} items", param="response.input"
        )
    context = Conversation()
    for index, entry in enumerate(raw):
        param = f"response.input[{index}]"
        if isinstance(entry, dict) and entry.get("type") == "item_reference":
            context.add(conversation.get(entry.get("id"), param=f"{param}.id"))
            continue
        item = item_from_client(entry)
        if item_audio(entry) is not None:  # a transcript the response would wait for, unseen
            raise InvalidInputError(
                "audio in response.input is not transcribed: add it to the conversation "
                "(conversation.item.create) and send an item_reference to it",
                param=f"{param}.content",
            )
        context.add(item)
    return context


def _metadata(raw: Any) -> dict[str, str] | None:
    if raw is None:
        return None
    if (
        not isinstance(raw, dict)
        or len(raw) > MAX_METADATA_PAIRS
        or not all(
            isinstance(key, str)
            and isinstance(value, str)
            and len(key) <= MAX_METADATA_KEY
            and len(value) <= MAX_METADATA_VALUE
            for key, value in raw.items()
        )
    ):
        raise InvalidInputError(
            f"response.metadata must be at most {MAX_METADATA_PAIRS} string pairs (keys up to "
            f"{MAX_METADATA_KEY} characters, values up to {MAX_METADATA_VALUE})",
            param="response.metadata",
        )
    return dict(raw)
