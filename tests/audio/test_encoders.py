"""Streaming encoders: bytes come out while audio goes in, and decode back to the same length."""

import io
import os

import av
import numpy as np
import pytest
import soundfile as sf

from coordinator.audio.encoders import STREAMING_FORMATS, make_encoder, wav_stream_header
from coordinator.audio.format import to_pcm16
from coordinator.errors import InvalidInputError

CHUNK = 2048
N_CHUNKS = 24
# Lossy codecs prepend encoder delay ("priming") that decoders without gapless info keep.
PRIMING_ALLOWANCE = 2048
SIGNAL = (0.3 * np.sin(np.arange(CHUNK * N_CHUNKS) / 10)).astype(np.float32)


def _encode(fmt, *, live=True, signal=SIGNAL):
    encoder = make_encoder(fmt, live=live)
    parts = [encoder.encode(signal[i : i + CHUNK]) for i in range(0, len(signal), CHUNK)]
    return encoder, parts, parts + [encoder.finish()]


def _decoded_samples(data):
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        return sum(frame.samples for frame in container.decode(audio=0)), stream.rate


@pytest.mark.parametrize("fmt", STREAMING_FORMATS)
def test_every_format_streams_before_the_end_and_decodes_back(fmt):
    encoder, during, everything = _encode(fmt)
    assert sum(1 for part in during if part) >= N_CHUNKS // 2, "bytes should flow while audio arrives"
    data = b"".join(everything)
    if fmt == "pcm":
        assert len(data) == len(SIGNAL) * 2
        return
    samples, rate = _decoded_samples(data)
    expected = len(SIGNAL) * rate // 24000  # Opus always decodes at 48 kHz
    if fmt in ("wav", "flac"):
        assert samples == expected
    else:
        assert expected <= samples <= expected + PRIMING_ALLOWANCE * rate // 24000


def test_streamed_wav_reads_back_with_soundfile_despite_the_unknown_length():
    data = b"".join(_encode("wav")[2])
    audio, rate = sf.read(io.BytesIO(data), dtype="float32")
    assert rate == 24000 and len(audio) == len(SIGNAL)
    assert np.abs(audio - SIGNAL).max() < 1e-4
    assert data[:44] == wav_stream_header() and len(wav_stream_header()) == 44


def test_a_flac_answer_is_sent_complete_with_its_true_length_for_soundfile():
    encoder, during, everything = _encode("flac", live=False)
    assert not any(during), "nothing before the end: STREAMINFO needs the total length"
    data = b"".join(everything)
    info = sf.info(io.BytesIO(data))
    assert (info.frames, info.samplerate, info.channels) == (len(SIGNAL), 24000, 1)
    assert data[8 + 18 : 8 + 34] != bytes(16)  # STREAMINFO's MD5 of the samples is filled in
    audio, _ = sf.read(io.BytesIO(data), dtype="int16")
    assert np.array_equal(audio, to_pcm16(SIGNAL))  # lossless: exactly the samples spoken
    assert _decoded_samples(data) == (len(SIGNAL), 24000)  # FFmpeg reads it too


def test_a_live_flac_streams_with_its_length_unknown():
    data = b"".join(_encode("flac", live=True)[2])
    # STREAMINFO's 36-bit total-samples field (after "fLaC", the block header and 13.5 bytes).
    total = int.from_bytes(data[8 + 13 : 8 + 18], "big") & 0xF_FFFF_FFFF
    assert data[:4] == b"fLaC" and total == 0
    assert _decoded_samples(data) == (len(SIGNAL), 24000)


def test_mp3_answers_played_back_to_back_decode_as_one_stream_of_the_summed_length():
    # LibreChat pipes the answers for several chunks of a message into one audio/mpeg response.
    lengths = (CHUNK * 5, CHUNK * 11 + 300, CHUNK * 3)
    answers = [b"".join(_encode("mp3", signal=SIGNAL[:n])[2]) for n in lengths]
    for answer in answers:
        assert answer[:3] != b"ID3" and answer[0] == 0xFF and answer[1] & 0xE0 == 0xE0  # a bare frame
        assert b"Xing" not in answer and b"Info" not in answer and b"LAME" not in answer[:512]
    joined = b"".join(answers)
    each = [_decoded_samples(answer)[0] for answer in answers]
    assert _decoded_samples(joined) == (sum(each), 24000)
    # libsndfile (mpg123) agrees: one stream, every answer's audio in it.
    assert sf.info(io.BytesIO(joined)).frames == sum(sf.info(io.BytesIO(a)).frames for a in answers)
    assert sum(lengths) <= sum(each) <= sum(lengths) + len(lengths) * PRIMING_ALLOWANCE


def test_an_empty_stream_is_still_a_valid_wav_header():
    encoder = make_encoder("wav")
    assert encoder.finish() == wav_stream_header()


def test_an_unknown_format_names_the_supported_ones():
    with pytest.raises(InvalidInputError, match="use one of wav, pcm, mp3, opus, aac, flac"):
        make_encoder("mp4")


@pytest.mark.parametrize("fmt", STREAMING_FORMATS)
def test_an_encoder_abandoned_mid_stream_can_be_closed_twice_and_after_finish(fmt):
    encoder = make_encoder(fmt)
    encoder.encode(SIGNAL[:CHUNK])
    encoder.close()
    encoder.close()
    finished = make_encoder(fmt)
    finished.encode(SIGNAL[:CHUNK])
    finished.finish()
    finished.close()


COMPRESSED = ("mp3", "opus", "aac", "flac")


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads through /proc")
def test_closing_abandoned_encoders_releases_their_threads():
    # An FFmpeg encoder holds codec threads (measured: 2 to 4 each) until its codec context is
    # freed, which closing the container alone does not do.
    def threads() -> int:
        return len(os.listdir("/proc/self/task"))

    before = threads()
    held = []  # like the async generators of cancelled streams, not yet collected
    for fmt in COMPRESSED * 5:
        encoder = make_encoder(fmt)
        encoder.encode(SIGNAL[:CHUNK])
        encoder.close()
        held.append(encoder)
    assert threads() <= before
