"""The page's pure modules, run in the browser on their own: the audio queue the worklet plays
from, the PCM decoder, the SSE parser, and the voice listing in both of its shapes."""

import pytest

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def page(browser, web_url):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{web_url}/web/favicon.svg")  # same origin as the modules, no app running
    yield page
    context.close()


def run(page, body: str):
    """Evaluate ``body`` (an async function body that may ``await imp(name)``) in the page."""
    return page.evaluate(f"async () => {{ const imp = (n) => import(`/web/js/${{n}}.js`); {body} }}")


def test_the_queue_reads_out_every_sample_once_in_order_across_uneven_chunks(page):
    result = run(
        page,
        """
        const { SampleQueue } = await imp("audio-queue");
        const q = new SampleQueue();
        let next = 0;
        for (const size of [1, 127, 128, 129, 500, 3, 2048]) {
          q.push(Float32Array.from({ length: size }, () => next++));
        }
        q.end();
        const out = [];
        const block = new Float32Array(128);
        while (!q.drained) { const n = q.read(block); out.push(...block.subarray(0, n)); }
        return { played: q.played, pushed: q.pushed, inOrder: out.every((v, i) => v === i), n: out.length, underruns: q.underruns };
        """,
    )
    assert result == {"played": 2936, "pushed": 2936, "inOrder": True, "n": 2936, "underruns": 0}


def test_running_dry_before_the_end_pads_silence_and_counts_one_underrun_per_gap(page):
    result = run(
        page,
        """
        const { SampleQueue } = await imp("audio-queue");
        const q = new SampleQueue();
        const block = new Float32Array(128);
        const before = q.read(block);             // nothing pushed yet: waiting, not a gap
        q.push(new Float32Array(200).fill(1));
        q.read(block);
        const short = q.read(block);              // 72 real samples, then silence
        const padded = block.subarray(short).every((v) => v === 0);
        q.read(block);                            // still dry: the same gap
        q.push(new Float32Array(10).fill(1));
        q.read(block);                            // a second gap
        q.end();
        q.read(block);                            // after the end: silence, no gap
        return { before, short, padded, underruns: q.underruns, drained: q.drained };
        """,
    )
    assert result == {"before": 0, "short": 72, "padded": True, "underruns": 2, "drained": True}


def test_clear_drops_what_was_not_played(page):
    result = run(
        page,
        """
        const { SampleQueue } = await imp("audio-queue");
        const q = new SampleQueue();
        q.push(new Float32Array(1000));
        q.read(new Float32Array(128));
        q.clear();
        return { drained: q.drained, played: q.played, read: q.read(new Float32Array(128)) };
        """,
    )
    assert result == {"drained": True, "played": 128, "read": 0}


def test_the_pcm_decoder_keeps_a_sample_split_across_network_chunks(page):
    result = run(
        page,
        """
        const { Pcm16Decoder, toInt16, littleEndianBytes } = await imp("pcm");
        const ints = Int16Array.from([0, 1, -1, 32767, -32768, 12345, -2]);
        const bytes = littleEndianBytes(ints);
        const d = new Pcm16Decoder();
        const parts = [bytes.subarray(0, 3), bytes.subarray(3, 4), bytes.subarray(4, 11), bytes.subarray(11)];
        const floats = parts.flatMap((p) => [...d.decode(p)]);
        return { back: [...toInt16(Float32Array.from(floats))], samples: d.samples };
        """,
    )
    assert result == {"back": [0, 1, -1, 32767, -32768, 12345, -2], "samples": 7}


def test_the_wav_blob_is_a_16_bit_mono_24khz_file(page):
    header = run(
        page,
        """
        const { wavBlob } = await imp("pcm");
        const view = new DataView(await wavBlob(new Int16Array(10)).arrayBuffer());
        return [view.byteLength, view.getUint16(22, true), view.getUint32(24, true), view.getUint16(34, true), view.getUint32(40, true)];
        """,
    )
    assert header == [64, 1, 24000, 16, 20]


def test_sse_events_are_parsed_across_chunk_boundaries_with_crlf_and_pings(page):
    events = run(
        page,
        """
        const { sseEvents } = await imp("sse");
        const text = 'data: {"a": 1}\\r\\n\\r\\n: ping\\r\\n\\r\\ndata: {"b": 2}\\r\\n\\r\\n';
        const bytes = new TextEncoder().encode(text + 'data: {"c": "x\\\\ny"}\\n\\n');
        const body = new ReadableStream({ start(c) { for (let i = 0; i < bytes.length; i += 5) c.enqueue(bytes.subarray(i, i + 5)); c.close(); } });
        const out = [];
        for await (const event of sseEvents(new Response(body))) out.push(event);
        return out;
        """,
    )
    assert events == [{"a": 1}, {"b": 2}, {"c": "x\ny"}]


def test_voices_in_the_current_shape_are_listed_with_the_default(page):
    listing = run(
        page,
        """
        const { normalizeVoices } = await imp("api");
        return normalizeVoices({ voices: ["tara", "leo"], default: "leo" });
        """,
    )
    assert [v["name"] for v in listing["voices"]] == ["Tara", "Leo"]
    assert listing["default"] == "leo" and listing["groups"] == []


def test_voices_in_open_webuis_shape_hide_aliases_and_group_by_language(page):
    listing = run(
        page,
        """
        const { normalizeVoices } = await imp("api");
        return normalizeVoices({ voices: [
          { id: "tara", name: "Tara", model: "orpheus-en", language: "English" },
          { id: "alloy", name: "Alloy", alias_of: "tara" },
          { id: "pierre", name: "Pierre", model: "orpheus-fr", language: "French" },
        ] });
        """,
    )
    assert [v["id"] for v in listing["voices"]] == ["tara", "pierre"]
    assert listing["groups"] == ["English", "French"]
    assert listing["voices"][1]["model"] == "orpheus-fr" and listing["default"] == "orpheus-en/tara"


def test_custom_voices_are_picked_by_id_grouped_apart_and_never_the_default(page):
    listing = run(
        page,
        """
        const { normalizeVoices } = await imp("api");
        return normalizeVoices({ voices: [
          { id: "voice_0123456789abcdef", name: "Grandma", model: "orpheus-pretrained", language: "en", custom: true },
          { id: "tara", name: "Tara", model: "orpheus-en", language: "en" },
        ] });
        """,
    )
    grandma, tara = listing["voices"]
    assert grandma["key"] == "voice_0123456789abcdef" and grandma["custom"] is True
    assert grandma["group"] == "Your voices" and grandma["model"] == "orpheus-pretrained"
    assert listing["groups"] == ["Your voices", "en"] and listing["default"] == "orpheus-en/tara"


def test_a_recording_is_named_after_its_container(page):
    names = run(
        page,
        """
        const { recordingName } = await imp("voices");
        return ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4", ""].map(recordingName);
        """,
    )
    assert names == ["recording.webm", "recording.ogg", "recording.m4a", "recording.webm"]
