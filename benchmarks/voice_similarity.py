"""How much a cloned voice sounds like its reference: the GPU proof's voice-similarity step.

Needs what no test here has: the real pretrained Orpheus (canopylabs/orpheus-3b-0.1-pretrained as a
GGUF, e.g. annuvin/orpheus-3b-0.1-pt-gguf), the real SNAC 24 kHz, a speaker-verification model and a
recording of a person. It runs on the GPU host (benchmarks/gpu_proof.sh step 5) when they are given.

The score: speaker-embedding cosine similarity. microsoft/wavlm-base-plus-sv (WavLM Base+ fine-tuned
for speaker verification with an x-vector head, through transformers' WavLMForXVector, 16 kHz) embeds
the reference recording and each generated utterance; the cosine of the two embeddings is the
utterance's similarity (1: the same voice). Its model card uses a threshold of 0.86 for "same
speaker" and says the best threshold depends on the data, so the verdict here is relative, not
that threshold: the cloned voice must be closer to the reference than a built-in voice of the
fine-tune (tara) saying the same texts is. Both numbers, and the card's threshold, are reported.
(The Seed-TTS / F5-TTS papers' SIM uses WavLM-Large + ECAPA-TDNN; any x-vector model directory
that transformers loads as WavLMForXVector can be named instead.)

    python -m benchmarks.voice_similarity --pretrained PT.gguf --snac SNAC_DIR --speaker-model SV_DIR \\
        --reference me.wav --transcript "What me.wav says." [--finetune FT.gguf] [--out result.json]

Exit 0 when the cloned voice scores above the built-in one (or, without --finetune, when it ran),
1 when it does not, 2 on bad arguments (a missing file is named).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
SPEAKER_RATE = 16_000  # what WavLM was trained on
CARD_THRESHOLD = (
    0.86  # microsoft/wavlm-base-plus-sv's model card: "the optimal threshold is dataset-dependent"
)
BASELINE_VOICE = "tara"
TEXTS = (
    "The weather is lovely today, so I think we should take a walk by the river.",
    "Could you remind me to call my sister this evening, after dinner?",
    "Every good story needs a beginning, a middle and an end.",
    "I have been reading a book about the history of the sea, and it is wonderful.",
)
# Long enough for a sentence (about 10 s), as a real request is capped by TTS_MAX_TOKENS.
MAX_TOKENS = 1400
SEED = 0
REFERENCE_PEAK = 0.9
LOOKAHEAD_FRAMES = 1  # whole utterances are scored: streaming latency does not matter here
N_CTX = 8192  # 30 s of reference (~2,500 tokens), its transcript, the text, the speech


def resample(audio: np.ndarray, rate: int, to_rate: int) -> np.ndarray:
    """Band-limited resampling of a whole clip in the frequency domain (numpy only: the proof host
    carries no FFmpeg). Exact enough for an embedding; not for streaming."""
    if rate == to_rate or audio.size == 0:
        return audio.astype(np.float32, copy=False)
    n_out = round(audio.size * to_rate / rate)
    spectrum = np.fft.rfft(audio.astype(np.float64))
    bins = n_out // 2 + 1
    kept = np.zeros(bins, np.complex128)
    kept[: min(bins, spectrum.size)] = spectrum[: min(bins, spectrum.size)]
    return (np.fft.irfft(kept, n_out) * (n_out / audio.size)).astype(np.float32)


def read_reference(path: Path, rate: int) -> np.ndarray:
    """A wav/flac/ogg recording (soundfile), downmixed, at ``rate``, peak-normalised. Give a clean
    3-30 s recording of one speaker: this reads it as it is (the server's trimming needs FFmpeg and
    Silero, which the proof host does not carry)."""
    import soundfile as sf

    audio, file_rate = sf.read(path, dtype="float32", always_2d=True)
    mono = resample(audio.mean(axis=1), file_rate, rate)
    peak = float(np.abs(mono).max()) if mono.size else 0.0
    return mono * (REFERENCE_PEAK / peak) if peak else mono


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64).reshape(-1), np.asarray(b, np.float64).reshape(-1)
    denominator = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / denominator if denominator else 0.0


@dataclass(frozen=True)
class Verdict:
    cloned: list[float]
    built_in: list[float] | None

    def as_dict(self) -> dict:
        cloned = statistics.mean(self.cloned)
        built_in = statistics.mean(self.built_in) if self.built_in else None
        return {
            "scorer": "cosine similarity of microsoft/wavlm-base-plus-sv x-vectors, 16 kHz",
            "cloned_mean": cloned,
            "cloned": self.cloned,
            "built_in_mean": built_in,
            "built_in": self.built_in,
            "card_threshold": CARD_THRESHOLD,
            "cloned_above_card_threshold": cloned >= CARD_THRESHOLD,
            "cloned_closer_than_built_in": None if built_in is None else cloned > built_in,
        }

    @property
    def passed(self) -> bool:
        return self.built_in is None or statistics.mean(self.cloned) > statistics.mean(self.built_in)


class SpeakerEmbedder:
    """x-vectors of 16 kHz mono audio by a transformers WavLMForXVector directory."""

    def __init__(self, directory: Path, device: str) -> None:
        import torch
        from transformers import AutoFeatureExtractor, WavLMForXVector

        self.torch = torch
        self.device = device
        self.extractor = AutoFeatureExtractor.from_pretrained(directory)
        self.model = WavLMForXVector.from_pretrained(directory).to(device).eval()

    def __call__(self, audio16k: np.ndarray) -> np.ndarray:
        inputs = self.extractor(audio16k, sampling_rate=SPEAKER_RATE, return_tensors="pt", padding=True)
        with self.torch.inference_mode():
            out = self.model(**{k: v.to(self.device) for k, v in inputs.items()})
        return out.embeddings[0].float().cpu().numpy()


def _speech(tts, text: str, voice, params) -> np.ndarray:  # type: ignore[no-untyped-def]
    chunks = [np.asarray(chunk) for chunk in tts.synthesize(text, voice, params)]
    audio = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    if audio.dtype == np.int16:
        audio = audio.astype(np.float32) / 32768.0
    return audio.astype(np.float32, copy=False)


def _load_tts(path: Path, codec, *, clones: bool, n_gpu_layers: int):  # type: ignore[no-untyped-def]
    from coordinator.engine.batch_engine import BatchEngine
    from coordinator.engine.llama_model import LlamaModel
    from coordinator.orpheus.vocab import OrpheusVocab
    from coordinator.tts.synthesis import OrpheusTTS

    model = LlamaModel.load(path, n_gpu_layers=n_gpu_layers)
    vocab = OrpheusVocab.from_token_texts(model.token_texts())
    engine = BatchEngine(model, n_ctx_per_seq=N_CTX, max_sequences=1, name=path.stem)
    voices = [] if clones else [BASELINE_VOICE]
    return OrpheusTTS(
        engine, vocab, codec, voices=voices, clones=clones, quant="proof", lookahead_frames=LOOKAHEAD_FRAMES
    )


def measure(args: argparse.Namespace) -> Verdict:
    import torch

    from coordinator.audio.snac_codec import load_snac
    from coordinator.engine.sampling import SamplingParams
    from coordinator.orpheus.clone import CLONE_SAMPLE_RATE as SAMPLE_RATE
    from coordinator.orpheus.clone import ClonedVoice, ReferenceSample

    codec = load_snac(args.snac, torch.device(args.device))
    embed = SpeakerEmbedder(args.speaker_model, args.device)
    samples, references = [], []
    for path, transcript in zip(args.reference, args.transcript, strict=True):
        audio = read_reference(path, SAMPLE_RATE)
        samples.append(ReferenceSample(transcript=transcript, frames=codec.encode(audio)))
        references.append(embed(resample(audio, SAMPLE_RATE, SPEAKER_RATE)))
    reference = np.mean(references, axis=0)
    voice = ClonedVoice(id="voice_0000000000000001", name="proof", samples=tuple(samples), created_at=0)
    params = SamplingParams(
        max_tokens=MAX_TOKENS, temperature=0.6, top_p=0.95, repetition_penalty=1.1, seed=SEED
    )

    def scores(tts, spoken) -> list[float]:  # type: ignore[no-untyped-def]
        out = []
        for text in TEXTS:
            audio = _speech(tts, text, spoken, params)
            out.append(cosine(reference, embed(resample(audio, SAMPLE_RATE, SPEAKER_RATE))))
            logger.info("%s: %.3f  %s", spoken if isinstance(spoken, str) else "cloned", out[-1], text)
        return out

    cloned = scores(_load_tts(args.pretrained, codec, clones=True, n_gpu_layers=args.n_gpu_layers), voice)
    built_in = None
    if args.finetune is not None:
        built_in = scores(
            _load_tts(args.finetune, codec, clones=False, n_gpu_layers=args.n_gpu_layers), BASELINE_VOICE
        )
    return Verdict(cloned=cloned, built_in=built_in)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretrained", type=Path, required=True, help="the pretrained Orpheus GGUF")
    parser.add_argument("--finetune", type=Path, help="the fine-tuned Orpheus GGUF: the built-in baseline")
    parser.add_argument("--snac", type=Path, required=True, help="a SNAC 24 kHz directory")
    parser.add_argument(
        "--speaker-model", type=Path, required=True, help="microsoft/wavlm-base-plus-sv's directory"
    )
    parser.add_argument(
        "--reference", type=Path, action="append", required=True, help="a recording (repeatable)"
    )
    parser.add_argument("--transcript", action="append", required=True, help="what each recording says")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--n-gpu-layers", type=int, default=-1)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "voice_similarity.json")
    args = parser.parse_args(argv)
    if len(args.reference) != len(args.transcript):
        parser.error("give one --transcript per --reference, in the same order")
    named = [args.pretrained, args.snac, args.speaker_model, *args.reference]
    if args.finetune is not None:
        named.append(args.finetune)
    missing = [str(path) for path in named if not path.exists()]
    if missing:
        parser.error(f"not found: {', '.join(missing)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    verdict = measure(args)
    result = {"benchmark": "voice_similarity", "model": str(args.pretrained), "texts": list(TEXTS)}
    result |= verdict.as_dict()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("cloned", "built_in", "texts")}, indent=2))
    return 0 if verdict.passed else 1


if __name__ == "__main__":
    sys.exit(main())
