"""Custom voices: POST /v1/audio/voices, GET and DELETE /v1/audio/voices/{voice_id}.

OpenAI's shapes (its API reference's VoiceResource: ``object``, ``id``, ``name``, ``created_at``,
``type``; the delete answer ``{"id", "object", "deleted"}``), with what Orpheus adds: the language
the voice speaks, the model that speaks it and each sample's transcript and length.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from coordinator.orpheus.clone import ClonedVoice


class VoiceSampleCard(BaseModel):
    transcript: str = Field(description="What the sample says (sent, or heard by the server's Whisper)")
    seconds: float = Field(description="The sample's length after trimming its silences")


class CustomVoice(BaseModel):
    """A custom (cloned) voice: send its ``id`` (or its name) as ``voice`` wherever a voice is taken."""

    object: Literal["audio.voice"] = "audio.voice"
    id: str = Field(description='voice_<hex>: what to send as voice (or as {"id": ...})')
    name: str
    created_at: int = Field(description="Unix seconds")
    type: Literal["audio_sample"] = "audio_sample"
    language: str = Field(description="ISO 639-1 code of what the samples speak")
    model: str | None = Field(None, description="The cloning model that speaks it (None: none is loaded)")
    samples: list[VoiceSampleCard]

    @classmethod
    def of(cls, voice: ClonedVoice, model: str | None) -> CustomVoice:
        return cls(
            id=voice.id,
            name=voice.name,
            created_at=voice.created_at,
            language=voice.language,
            model=model,
            samples=[
                VoiceSampleCard(transcript=s.transcript, seconds=round(s.seconds, 2)) for s in voice.samples
            ],
        )


class VoiceDeleted(BaseModel):
    id: str
    object: Literal["audio.voice"] = "audio.voice"
    deleted: Literal[True] = True
