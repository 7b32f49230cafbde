"""A transcript in OpenAI's response formats (json, text, verbose_json, srt, vtt) and in its
transcription stream events. Pure functions."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal, TypeVar

from coordinator.errors import InvalidInputError
from coordinator.stt.transcript import Segment, Transcript, Word

ResponseFormat = Literal["json", "text", "verbose_json", "srt", "vtt"]
RESPONSE_FORMATS: tuple[str, ...] = ("json", "text", "verbose_json", "srt", "vtt")
Task = Literal["transcribe", "translate"]
# OpenAI's timestamp_granularities: which timings verbose_json carries (segments by default).
Granularity = Literal["word", "segment"]
DEFAULT_GRANULARITIES: tuple[Granularity, ...] = ("segment",)
# Formats whose answer can stream as transcript.text events: the events carry text only.
STREAMABLE_FORMATS: tuple[str, ...] = ("json", "text")
# Whisper's encoder reads the audio as one position per 20 ms (1500 per 30 s window): the audio
# tokens of a transcription's usage.
AUDIO_TOKENS_PER_SECOND = 50

# Whisper's languages: code, then the English name OpenAI's verbose_json reports.
_LANGUAGE_TABLE = (
    "en english,zh chinese,de german,es spanish,ru russian,ko korean,fr french,ja japanese,pt portuguese,"
    "tr turkish,pl polish,ca catalan,nl dutch,ar arabic,sv swedish,it italian,id indonesian,hi hindi,"
    "fi finnish,vi vietnamese,he hebrew,uk ukrainian,el greek,ms malay,cs czech,ro romanian,da danish,"
    "hu hungarian,ta tamil,no norwegian,th thai,ur urdu,hr croatian,bg bulgarian,lt lithuanian,la latin,"
    "mi maori,ml malayalam,cy welsh,sk slovak,te telugu,fa persian,lv latvian,bn bengali,sr serbian,"
    "az azerbaijani,sl slovenian,kn kannada,et estonian,mk macedonian,br breton,eu basque,is icelandic,"
    "hy armenian,ne nepali,mn mongolian,bs bosnian,kk kazakh,sq albanian,sw swahili,gl galician,"
    "mr marathi,pa punjabi,si sinhala,km khmer,sn shona,yo yoruba,so somali,af afrikaans,oc occitan,"
    "ka georgian,be belarusian,tg tajik,sd sindhi,gu gujarati,am amharic,yi yiddish,lo lao,uz uzbek,"
    "fo faroese,ht haitian creole,ps pashto,tk turkmen,nn nynorsk,mt maltese,sa sanskrit,lb luxembourgish,"
    "my myanmar,bo tibetan,tl tagalog,mg malagasy,as assamese,tt tatar,haw hawaiian,ln lingala,ha hausa,"
    "ba bashkir,jw javanese,su sundanese,yue cantonese"
)
LANGUAGE_NAMES: dict[str, str] = dict(item.split(" ", 1) for item in _LANGUAGE_TABLE.split(","))
_CODES_BY_NAME = {name: code for code, name in LANGUAGE_NAMES.items()}


def language_code(value: str | None) -> str | None:
    """An ISO-639-1 code (``en``) or an English name (``English``) as Whisper's code; ``None``,
    empty or ``auto``: detect. Anything else is a 400 naming the parameter."""
    if value is None or not value.strip() or value.strip().lower() == "auto":
        return None
    key = value.strip().lower().replace("_", "-")
    if key in LANGUAGE_NAMES:
        return key
    if key in _CODES_BY_NAME:
        return _CODES_BY_NAME[key]
    base = key.split("-", 1)[0]  # a BCP-47 tag as browsers give it: en-US → en
    if base in LANGUAGE_NAMES:
        return base
    raise InvalidInputError(
        f"language {value!r} is not one Whisper knows: give an ISO-639-1 code such as 'en' or 'de', "
        "or leave it out to detect the language",
        param="language",
    )


@dataclass(frozen=True)
class Rendered:
    body: str | dict
    media_type: str


_Timed = TypeVar("_Timed", Segment, Word)


def _clamped(items: Iterable[_Timed], duration: float) -> list[_Timed]:
    """Times inside the audio and never going backwards (a model's last timestamp may overshoot)."""
    out: list[_Timed] = []
    previous_end = 0.0
    for item in items:
        start = min(max(item.start, previous_end, 0.0), duration)
        end = min(max(item.end, start), duration)
        previous_end = end
        out.append(replace(item, start=start, end=end))
    return out


def _clamped_words(words: Iterable[Word], duration: float) -> list[Word]:
    """The words with text, their times clamped as segments' are."""
    return _clamped((word for word in words if word.word.strip()), duration)


def timestamp(seconds: float, *, separator: str) -> str:
    """``HH:MM:SS<sep>mmm``: ``,`` for SRT, ``.`` for WebVTT."""
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _cue_text(text: str) -> str:
    # A blank line would end the cue early in both formats.
    return "\n".join(line for line in text.strip().splitlines() if line.strip()) or "..."


def to_srt(transcript: Transcript) -> str:
    cues = [
        f"{index}\n{timestamp(seg.start, separator=',')} --> {timestamp(seg.end, separator=',')}\n"
        f"{_cue_text(seg.text)}\n"
        for index, seg in enumerate(_clamped(transcript.segments, transcript.duration), start=1)
    ]
    return "\n".join(cues)


def to_vtt(transcript: Transcript) -> str:
    cues = [
        f"{timestamp(seg.start, separator='.')} --> {timestamp(seg.end, separator='.')}\n{_cue_text(seg.text)}\n"
        for seg in _clamped(transcript.segments, transcript.duration)
    ]
    return "WEBVTT\n\n" + "\n".join(cues)


def to_verbose_json(
    transcript: Transcript, *, task: Task, granularities: Iterable[Granularity] = DEFAULT_GRANULARITIES
) -> dict:
    """OpenAI's verbose_json: ``segments`` with segment timings, ``words`` (``{word, start, end}``)
    with word timings, as ``granularities`` ask."""
    wanted = set(granularities)
    body: dict = {
        "task": task,
        "language": LANGUAGE_NAMES.get(transcript.language, transcript.language),
        "duration": round(transcript.duration, 3),
        "text": transcript.text,
    }
    if "word" in wanted:
        body["words"] = [
            # OpenAI's words carry no surrounding space (the model writes " word").
            {"word": word.word.strip(), "start": round(word.start, 3), "end": round(word.end, 3)}
            for word in _clamped_words(transcript.words, transcript.duration)
        ]
    if "segment" in wanted:
        body["segments"] = [
            {
                "id": seg.id,
                "seek": 0,
                "start": round(seg.start, 3),
                "end": round(seg.end, 3),
                "text": seg.text,
                "tokens": list(seg.tokens),
                "temperature": seg.temperature,
                "avg_logprob": seg.avg_logprob,
                "compression_ratio": seg.compression_ratio,
                "no_speech_prob": seg.no_speech_prob,
            }
            for seg in _clamped(transcript.segments, transcript.duration)
        ]
    return body


def render(
    transcript: Transcript,
    response_format: ResponseFormat,
    *,
    task: Task = "transcribe",
    granularities: Iterable[Granularity] = DEFAULT_GRANULARITIES,
) -> Rendered:
    """``granularities``: verbose_json's timings (the other formats have their own or none)."""
    if response_format == "json":
        return Rendered({"text": transcript.text}, "application/json")
    if response_format == "verbose_json":
        return Rendered(
            to_verbose_json(transcript, task=task, granularities=granularities), "application/json"
        )
    if response_format == "text":
        return Rendered(transcript.text + "\n", "text/plain; charset=utf-8")
    if response_format == "srt":
        return Rendered(to_srt(transcript), "application/x-subrip; charset=utf-8")
    return Rendered(to_vtt(transcript), "text/vtt; charset=utf-8")


class TextDeltas:
    """A transcript's text as it grows segment by segment, cut into the deltas of OpenAI's
    ``transcript.text.delta`` events: joined, the deltas sent so far are always the transcript's
    text so far (``"".join(segment texts).strip()``), so a client that joins them gets exactly the
    ``text`` of ``transcript.text.done``. Whitespace at the end waits until text follows it."""

    def __init__(self) -> None:
        self._heard = ""
        self._sent = 0

    def push(self, piece: str) -> str:
        """The delta for one more segment's ``piece`` of text ("" when nothing shows yet)."""
        self._heard += piece
        visible = self._heard.strip()
        delta = visible[self._sent :]
        self._sent = len(visible)
        return delta


def stream_usage(transcript: Transcript) -> dict:
    """The ``usage`` of ``transcript.text.done`` (OpenAI's token usage): the audio as the encoder
    read it, the prompt's text tokens, and the tokens the model wrote."""
    audio = math.ceil(transcript.duration * AUDIO_TOKENS_PER_SECOND)
    text = transcript.prompt_tokens
    output = transcript.output_tokens
    return {
        "type": "tokens",
        "input_tokens": audio + text,
        "output_tokens": output,
        "total_tokens": audio + text + output,
        "input_token_details": {"audio_tokens": audio, "text_tokens": text},
    }
