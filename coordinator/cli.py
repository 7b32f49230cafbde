"""`python -m coordinator {synth,decode,download,serve,bench}`.

Every user-fixable problem ends as one line on stderr and a non-zero exit; output files are
written atomically, so a failure or Ctrl-C never leaves a half-written WAV or .npz behind.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from coordinator.bench.report import DEFAULT_MARGIN
from coordinator.bench.shapes import QUANTS
from coordinator.config.reference import flag_help
from coordinator.errors import CoordinatorError, InvalidInputError
from coordinator.orpheus.layout import FRAME_TOKENS

logger = logging.getLogger(__name__)

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
DEFAULT_BENCH_TOKENS = 420  # 60 frames: 5.1 s of audio per stream
DEFAULT_BENCH_SECONDS = 900.0
BENCH_STREAMS_GPU = 128  # the goal is 64 real-time streams on one H100/H200: look past it
BENCH_STREAMS_CPU = 8
MAX_BENCH_STREAMS = 256  # MAX_CONCURRENT_STREAMS' own limit


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m coordinator", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="count", default=0, help="-v: info logs, -vv: debug")
    commands = parser.add_subparsers(dest="command", required=True)

    synth = commands.add_parser("synth", help="speak text with Orpheus into a 24 kHz WAV")
    synth.add_argument("--text", required=True, help="words to speak; emotion tags like <laugh> allowed")
    synth.add_argument(
        "--voice",
        default=None,
        help="voice name, of any model in ORPHEUS_MODELS (fr/pierre names the model too); "
        "default: the default model's (tara)",
    )
    synth.add_argument("--out", required=True, type=Path, help="output .wav file")
    synth.add_argument("--seed", type=int, default=None, help="sampling seed, for reproducible output")
    synth.add_argument(
        "--max-tokens",
        dest="tts_max_tokens",
        metavar="N",
        type=int,
        default=None,
        help=flag_help("tts_max_tokens", use="This run's TTS_MAX_TOKENS."),
    )
    synth.add_argument("--temperature", type=float, default=None)
    synth.add_argument("--top-p", type=float, default=None)
    synth.add_argument("--repetition-penalty", type=float, default=None)
    synth.add_argument("--codes-out", type=Path, default=None, help="also save the SNAC codes (.npz)")

    decode = commands.add_parser("decode", help="decode saved SNAC codes (.npz) into a WAV")
    decode.add_argument("--codes", required=True, type=Path, help=".npz with c0 (F), c1 (2F), c2 (4F)")
    decode.add_argument("--out", required=True, type=Path, help="output .wav file")

    download = commands.add_parser("download", help="fetch the models of models.yaml into MODELS_DIR")
    download.add_argument(
        "--only",
        action="append",
        choices=["orpheus", "llm", "snac", "stt"],
        help="fetch only this model (repeatable)",
    )
    download.add_argument("--quant", default=None, help="quantization for the GGUF models (e.g. Q4_K_M)")
    download.add_argument(
        "--models",
        dest="orpheus_models",
        metavar="MODELS",
        default=None,
        help=flag_help("orpheus_models", use="The Orpheus models to fetch: this run's ORPHEUS_MODELS."),
    )
    download.add_argument(
        "--list", action="store_true", help="show files, sizes, licenses and status; fetch nothing"
    )
    download.add_argument("--dry-run", action="store_true", help="show what would be fetched; fetch nothing")

    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", default=None, help=flag_help("host"))
    serve.add_argument("--port", type=int, default=None, help=flag_help("port"))

    bench = commands.add_parser(
        "bench",
        help="measure this host: streams held at real time, first audio, SNAC cost, and the "
        "MAX_CONCURRENT_STREAMS to set",
    )
    bench.add_argument(
        "--synthetic",
        action="store_true",
        help="random-weight models of the released shapes, written here at run time: speed without "
        "downloading (speed does not depend on the weights' values)",
    )
    bench.add_argument(
        "--tiny", action="store_true", help="with --synthetic: tiny shapes (seconds, for trying)"
    )
    bench.add_argument("--quant", choices=QUANTS, default="Q8_0", help="synthetic Orpheus quantization")
    # Not LLM_QUANT, nor MODELS_DIR below: these choose the synthetic models, so their dests differ.
    bench.add_argument(
        "--llm-quant",
        dest="synthetic_llm_quant",
        choices=QUANTS,
        default="Q8_0",
        help="synthetic Gemma quantization",
    )
    bench.add_argument(
        "--models-dir",
        dest="synthetic_dir",
        type=Path,
        default=None,
        help="synthetic models, written once and reused (MODELS_DIR/synthetic)",
    )
    bench.add_argument(
        "--build-only", action="store_true", help="with --synthetic: write the models, measure nothing"
    )
    bench.add_argument(
        "--max-streams",
        type=int,
        default=None,
        help="most concurrent streams to try (default 128 on a GPU, else 8)",
    )
    bench.add_argument(
        "--max-tokens",
        type=int,
        default=DEFAULT_BENCH_TOKENS,
        help=f"audio tokens per stream (default {DEFAULT_BENCH_TOKENS}: 5.1 s of audio)",
    )
    bench.add_argument(
        "--max-seconds",
        type=float,
        default=DEFAULT_BENCH_SECONDS,
        help=f"stop within this many seconds, writing models included (default {DEFAULT_BENCH_SECONDS:.0f})",
    )
    bench.add_argument(
        "--margin",
        type=float,
        default=DEFAULT_MARGIN,
        help=f"recommend N whose real-time factor p95 is at most this (default {DEFAULT_MARGIN})",
    )
    bench.add_argument("--no-chat", action="store_true", help="skip the /chat first-audio measurement")
    bench.add_argument(
        "--cloning",
        action="store_true",
        help="with --synthetic: also a random pretrained (cloning) Orpheus, so custom voices are measured",
    )
    bench.add_argument(
        "--cloned-references",
        type=lambda text: tuple(float(part) for part in text.split(",")),
        default=(10.0, 30.0),
        help="seconds of reference of the custom voices measured, comma-separated (default 10,30)",
    )
    bench.add_argument(
        "--no-cloned",
        action="store_true",
        help="skip the custom voices' first audio (10 s and 30 s references; needs a cloning model)",
    )
    bench.add_argument(
        "--no-listening",
        action="store_true",
        help="skip the streams with checking off, timings on and checking on (needs a Whisper: "
        "STT_MODEL_PATH)",
    )
    bench.add_argument("--out", type=Path, default=Path("bench-capacity.json"), help="JSON report (.json)")
    return parser


def _check_suffix(path: Path, suffix: str, flag: str) -> None:
    if path.suffix.lower() != suffix:
        raise InvalidInputError(f"{flag} {path} must end in {suffix}", param=flag)


def _synth(args: argparse.Namespace) -> str:
    from coordinator.audio.files import open_wav, save_codes
    from coordinator.config.catalog import load_catalog
    from coordinator.config.settings import load_settings
    from coordinator.engine.sampling import sampling_with
    from coordinator.runtime.loading import load_tts
    from coordinator.service.limits import RequestLimits
    from coordinator.tts.synthesis import ORPHEUS_DEFAULT_SAMPLING

    _check_suffix(args.out, ".wav", "--out")
    if args.codes_out is not None:
        _check_suffix(args.codes_out, ".npz", "--codes-out")
    settings = load_settings()
    # The limit every door applies (MAX_INPUT_CHARS), checked before any model loads.
    RequestLimits.from_settings(settings).check_text(args.text, param="text")
    catalog = load_catalog(settings.catalog_path())
    params = sampling_with(
        ORPHEUS_DEFAULT_SAMPLING,
        seed=args.seed,
        max_tokens=settings.tts_max_tokens if args.tts_max_tokens is None else args.tts_max_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        repetition_penalty=args.repetition_penalty,
    )
    from coordinator.config.selection import select_orpheus
    from coordinator.runtime.loading import choice_for_voice

    # Only the Orpheus model (of ORPHEUS_MODELS) that speaks the voice is loaded.
    choice, spelled = choice_for_voice(select_orpheus(catalog, settings), args.voice)
    voice = spelled or choice.spec.default_voice
    # One utterance needs one sequence: don't reserve KV cache for MAX_CONCURRENT_STREAMS of them.
    tts = load_tts(settings.model_copy(update={"max_concurrent_streams": 1}), catalog, voice=args.voice)
    try:
        speech = tts.synthesize(args.text, voice, params)
        with open_wav(args.out) as wav:
            for chunk in speech:
                wav.write(chunk)
            if args.codes_out is not None:
                save_codes(args.codes_out, speech.frames)
    finally:
        tts.close()
    stats = speech.stats
    ending = {
        "stop": "end of speech",
        "length": "token limit reached: raise --max-tokens or shorten the text",
    }
    dropped = (
        f"; {stats.dropped_tokens} tokens of an unfinished frame dropped" if stats.dropped_tokens else ""
    )
    return (
        f"wrote {args.out}: {stats.audio_s:.2f} s audio, {stats.frames} frames, "
        f"first audio {stats.first_audio_s or 0.0:.3f} s, real-time factor {stats.real_time_factor:.2f} "
        f"({ending.get(stats.finish_reason or '', stats.finish_reason)}{dropped})"
    )


def _decode(args: argparse.Namespace) -> str:
    from coordinator.audio.files import load_codes, open_wav
    from coordinator.audio.format import frames_to_seconds
    from coordinator.audio.streaming import StreamingDecoder
    from coordinator.config.catalog import load_catalog
    from coordinator.config.settings import load_settings
    from coordinator.runtime.loading import load_codec

    _check_suffix(args.out, ".wav", "--out")
    frames = load_codes(args.codes)  # validate before loading SNAC
    settings = load_settings()
    codec = load_codec(settings, load_catalog(settings.catalog_path()))
    decoder = StreamingDecoder(codec)
    for frame in frames:
        decoder.push(frame)
    with open_wav(args.out) as wav:
        for chunk in decoder.decode_ready(finished=True):
            wav.write(chunk)
    return f"wrote {args.out}: {frames_to_seconds(len(frames)):.2f} s audio, {len(frames)} frames"


def _download(args: argparse.Namespace) -> str:
    import os

    from coordinator.config.catalog import load_catalog
    from coordinator.config.settings import load_settings
    from coordinator.runtime.download import describe, fetch, plan_downloads

    given = {"orpheus_models": args.orpheus_models} if args.orpheus_models is not None else {}
    settings = load_settings(**given)
    items = plan_downloads(load_catalog(settings.catalog_path()), settings, only=args.only, quant=args.quant)
    missing = [item for item in items if not item.present]
    if args.list:
        return describe(items)
    if args.dry_run:
        if not missing:
            return "nothing to fetch: every file is present"
        return "would fetch:\n" + describe(missing)
    fetched = fetch(
        items, token=os.environ.get("HF_TOKEN") or None, endpoint=os.environ.get("HF_ENDPOINT") or None
    )
    return f"{len(fetched)} file(s) fetched, {len(items) - len(fetched)} already present in {settings.models_dir}"


def _serve(args: argparse.Namespace) -> str:
    from coordinator.launch.serve import serve

    serve(host=args.host, port=args.port)
    return "server stopped"


def _bench_arguments(args: argparse.Namespace, settings: object) -> int:
    """Check the flags before anything slow starts; the number of streams to go up to."""
    if args.tiny and not args.synthetic:
        raise InvalidInputError(
            "--tiny needs --synthetic (it picks the synthetic models' shapes)", param="--tiny"
        )
    if args.cloning and not args.synthetic:
        raise InvalidInputError(
            "--cloning needs --synthetic (with real models, set ORPHEUS_MODELS=...,pretrained)",
            param="--cloning",
        )
    if args.build_only and not args.synthetic:
        raise InvalidInputError("--build-only needs --synthetic", param="--build-only")
    _check_suffix(args.out, ".json", "--out")
    if args.max_tokens < FRAME_TOKENS:
        raise InvalidInputError(
            f"--max-tokens must be at least {FRAME_TOKENS} (one frame)", param="--max-tokens"
        )
    if args.max_seconds <= 0:
        raise InvalidInputError("--max-seconds must be positive", param="--max-seconds")
    if not 0 < args.margin <= 1:
        raise InvalidInputError(
            "--margin must be in (0, 1]: a real-time factor p95 to stay under", param="--margin"
        )
    if args.max_streams is None:
        import llama_cpp

        gpu = bool(llama_cpp.llama_supports_gpu_offload()) and getattr(settings, "n_gpu_layers", 0) != 0
        return BENCH_STREAMS_GPU if gpu else BENCH_STREAMS_CPU
    if not 1 <= args.max_streams <= MAX_BENCH_STREAMS:
        raise InvalidInputError(f"--max-streams must be 1 to {MAX_BENCH_STREAMS}", param="--max-streams")
    return int(args.max_streams)


def _bench(args: argparse.Namespace) -> str:
    import time

    from coordinator.bench.capacity import SweepConfig, sweep, write_report
    from coordinator.bench.models import configured_models, synthetic_models
    from coordinator.bench.report import summary
    from coordinator.config.settings import load_settings

    started = time.monotonic()
    deadline = started + args.max_seconds
    # Progress goes to stderr by default: a sweep takes minutes.
    logging.getLogger("coordinator.bench").setLevel(logging.INFO)
    settings = load_settings()
    max_streams = _bench_arguments(args, settings)
    if args.synthetic:
        directory = args.synthetic_dir or settings.models_dir / "synthetic"
        overrides, models = synthetic_models(
            directory,
            quant=args.quant,
            llm_quant=args.synthetic_llm_quant,
            tiny=args.tiny,
            cloning=args.cloning,
            deadline=deadline,
        )
        if args.build_only:
            return "\n".join(f"{role}: {info['path']}" for role, info in models.items())
        settings = settings.model_copy(update=overrides)
    else:
        models = configured_models(settings)
    max_tokens = args.max_tokens // FRAME_TOKENS * FRAME_TOKENS
    config = SweepConfig(
        max_streams=max_streams,
        max_tokens=max_tokens,
        deadline=deadline,
        margin=args.margin,
        chat=not args.no_chat,
        cloned=() if args.no_cloned else args.cloned_references,
        listening=not args.no_listening,
    )
    report = sweep(settings, config, models=models)
    write_report(report, args.out)
    return summary(report, args.out)


_COMMANDS = {"synth": _synth, "decode": _decode, "download": _download, "serve": _serve, "bench": _bench}


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if args.verbose < 2:
        # llama.cpp warns about things users cannot act on (e.g. a context below the trained one).
        logging.getLogger("coordinator.llama_cpp").setLevel(logging.ERROR)
    try:
        summary = _COMMANDS[args.command](args)
    except CoordinatorError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        sys.stderr.write("interrupted: nothing was written\n")
        return EXIT_INTERRUPTED
    sys.stdout.write(summary + "\n")
    return 0
