"""A Realtime session's conversation: its items (user, assistant and system messages), bounded,
written in the client's dialect, truncated to what was heard, and read as the chat model's history.
Pure: no I/O. The audio of an item is not kept, only its transcript (the model reads text)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal

from coordinator.errors import InvalidInputError
from coordinator.llm.chat import ChatMessage
from coordinator.server.realtime.events import new_id, part_type

# Items kept per session: the oldest go first (as OpenAI's "auto" truncation drops them), so a
# session that talks for hours holds bounded memory. The model reads only the most recent
# MAX_HISTORY_MESSAGES of them anyway.
MAX_ITEMS = 256
Role = Literal["user", "assistant", "system"]
# What each role's content may be, GA and beta names.
_CONTENT_TYPES: dict[str, frozenset[str]] = {
    "user": frozenset({"input_text", "input_audio", "text"}),
    "system": frozenset({"input_text", "text"}),
    "assistant": frozenset({"output_text", "output_audio", "text", "audio"}),
}
MS_PER_S = 1000
ROOT = "root"  # a previous_item_id that puts an item first


@dataclass
class Item:
    id: str
    role: Role
    content_type: str  # GA: input_text, input_audio, output_text, output_audio
    text: str | None  # the text, or the transcript (None until it is known)
    status: str = "completed"
    # The assistant's response that wrote it (realtime.response.Response, typed loosely to keep
    # this module free of it): its audio, for truncation. None for the client's and user's items.
    response: Any = None

    def wire(self, *, beta: bool) -> dict[str, Any]:
        key = "transcript" if self.content_type.endswith("audio") else "text"
        part = {"type": part_type(self.content_type, beta=beta), key: self.text}
        return {
            "id": self.id,
            "object": "realtime.item",
            "type": "message",
            "status": self.status,
            "role": self.role,
            "content": [part],
        }


def item_from_client(raw: Any) -> Item:
    """A ``conversation.item.create``'s item: a message of text parts, a user's audio part with its
    transcript, or a user's audio part alone (its ``text`` None until the session has it
    transcribed). InvalidInputError names what else was sent, and why it is refused."""
    if not isinstance(raw, dict):
        raise InvalidInputError("item must be an object", param="item")
    kind = raw.get("type", "message")
    if kind != "message":
        raise InvalidInputError(
            f"item type {kind!r} is not supported: send type 'message' (function calls and their "
            "outputs need tools, which this server's chat model does not have)",
            param="item.type",
        )
    role = raw.get("role")
    if role not in _CONTENT_TYPES:
        raise InvalidInputError("item.role must be 'user', 'assistant' or 'system'", param="item.role")
    content = raw.get("content")
    if not isinstance(content, list) or not content:
        raise InvalidInputError("item.content must be a list of content parts", param="item.content")
    texts: list[str] = []
    types: set[str] = set()
    for index, part in enumerate(content):
        ptype = part.get("type") if isinstance(part, dict) else None
        if ptype not in _CONTENT_TYPES[role]:
            allowed = ", ".join(sorted(_CONTENT_TYPES[role]))
            raise InvalidInputError(
                f"a {role} item's content part may be {allowed}; got {ptype!r}",
                param=f"item.content[{index}].type",
            )
        value = part.get("transcript" if ptype in ("input_audio", "output_audio", "audio") else "text")
        if ptype == "input_audio" and part.get("audio") is not None:
            _check_audio_part(part["audio"], len(content), index)
            value = None  # the server's Whisper writes its transcript (the session starts it)
            types.add(ptype)
            continue
        if not isinstance(value, str):
            raise InvalidInputError(
                "each content part needs its text (or transcript)", param=f"item.content[{index}]"
            )
        texts.append(value)
        types.add(ptype)
    content_type = {"text": "input_text", "audio": "output_audio"}.get(sorted(types)[0], sorted(types)[0])
    if role == "assistant" and content_type == "text":
        content_type = "output_text"
    item_id = raw.get("id")
    if item_id is not None and not isinstance(item_id, str):
        raise InvalidInputError("item.id must be a string", param="item.id")
    text = None if item_audio(raw) is not None else "".join(texts)
    return Item(id=item_id or new_id("item"), role=role, content_type=content_type, text=text)


def item_audio(raw: dict[str, Any]) -> str | None:
    """The base64 pcm16 of a user's ``input_audio`` part, checked by ``item_from_client`` (its
    transcript is the server's to write), or None for an item of text."""
    content = raw.get("content")
    part = content[0] if isinstance(content, list) and len(content) == 1 else None
    if isinstance(part, dict) and part.get("type") == "input_audio" and part.get("audio") is not None:
        audio = part["audio"]
        return audio if isinstance(audio, str) else None
    return None


def _check_audio_part(audio: Any, parts: int, index: int) -> None:
    if not isinstance(audio, str) or not audio:
        raise InvalidInputError(
            "an input_audio part's audio must be a base64 string of pcm16 audio (24 kHz mono)",
            param=f"item.content[{index}].audio",
        )
    if parts != 1:  # one audio turn per item: its transcript is the item's whole text
        raise InvalidInputError(
            "an item with audio carries that one input_audio part: send its text parts as another item",
            param="item.content",
        )


class Conversation:
    """The items, in order; at most MAX_ITEMS of them."""

    def __init__(self, max_items: int = MAX_ITEMS) -> None:
        self._items: OrderedDict[str, Item] = OrderedDict()
        self._max = max_items

    def __len__(self) -> int:
        return len(self._items)

    @property
    def last_id(self) -> str | None:
        return next(reversed(self._items), None)

    def add(self, item: Item, *, after: str | None = None) -> str | None:
        """Add ``item`` (after the item ``after``, else last); the id of the item before it."""
        if item.id in self._items:
            raise InvalidInputError(f"an item with id {item.id!r} already exists", param="item.id")
        if after == ROOT:  # OpenAI's name for "before every item"
            self._items[item.id] = item
            self._items.move_to_end(item.id, last=False)
            self._bound()
            return None
        if after is not None and after not in self._items:
            raise InvalidInputError(
                f"previous_item_id {after!r} is no item of this conversation", param="previous_item_id"
            )
        previous = after if after is not None else self.last_id
        self._items[item.id] = item
        if after is not None:
            keys = list(self._items)
            keys.remove(item.id)
            keys.insert(keys.index(after) + 1, item.id)
            self._items = OrderedDict((key, self._items[key]) for key in keys)
        self._bound()
        return previous

    def _bound(self) -> None:
        while len(self._items) > self._max:
            self._items.popitem(last=False)

    def get(self, item_id: Any, *, param: str = "item_id") -> Item:
        item = self._items.get(item_id) if isinstance(item_id, str) else None
        if item is None:
            raise InvalidInputError(
                f"no item with id {item_id!r} in this conversation", param=param, code="item_not_found"
            )
        return item

    def delete(self, item_id: Any) -> None:
        self.get(item_id)
        del self._items[item_id]

    def history(self, instructions: str, *, max_messages: int) -> tuple[list[ChatMessage], str]:
        """The chat model's view: the earlier turns (the instructions and system items first),
        and what the user said last (the instructions themselves when nothing was said yet).
        Consecutive turns of one role are joined (Gemma's template needs user and assistant to
        alternate); only the last ``max_messages`` earlier turns are kept, from a user turn on."""
        system = [instructions] if instructions.strip() else []
        turns: list[ChatMessage] = []
        for item in self._items.values():
            if not item.text:
                continue
            if item.role == "system":
                system.append(item.text)
            elif turns and turns[-1].role == item.role:
                turns[-1] = ChatMessage(item.role, f"{turns[-1].content}\n{item.text}")
            else:
                turns.append(ChatMessage(item.role, item.text))
        if not turns and system:
            # Nothing said yet: OpenAI's model then speaks first, following the instructions (a
            # greeting), and Pipecat asks for that at its start, taking a refusal as fatal. Gemma
            # reads instructions in the user's turn, so they are that turn here.
            return [], "\n".join(system)
        if not turns or turns[-1].role != "user":
            raise InvalidInputError(
                "there is no user turn to answer: add a user message (conversation.item.create, or "
                "commit the input audio) before response.create",
                param="response",
                code="conversation_empty",
            )
        earlier = turns[:-1][-max_messages:] if max_messages else []
        while earlier and earlier[0].role != "user":
            earlier.pop(0)
        prefix = [ChatMessage("system", "\n".join(system))] if system else []
        return prefix + earlier, turns[-1].content


def cut_to_heard(text: str, heard_ms: int, spoken_ms: int) -> str:
    """The part of a spoken ``text`` heard in its first ``heard_ms`` of ``spoken_ms``: the words in
    proportion (speech runs at a roughly even rate of characters), cut at a word's end."""
    if spoken_ms <= 0 or heard_ms >= spoken_ms:
        return text if heard_ms >= spoken_ms > 0 else ""
    cut = round(len(text) * heard_ms / spoken_ms)
    head = text[:cut]
    if cut < len(text) and not text[cut].isspace():
        head = head.rsplit(" ", 1)[0] if " " in head else ""
    return head.rstrip()
