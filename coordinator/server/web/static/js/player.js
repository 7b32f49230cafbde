// Plays PCM while it arrives.
//
// Why an AudioWorklet fed PCM: the API streams raw 16-bit samples (`response_format: "pcm"`,
// and /chat's events), and a worklet plays exactly those samples, in order, on the audio thread,
// as soon as the first chunk is in. MediaSource would need a container the browser can append
// (mp3/opus support differs per browser, and its decoder pads and trims frames), and
// <audio src> waits for a whole file. The context runs at the API's 24 kHz, so the page never
// resamples: the browser's own output stage does, once, as for any audio.
//
// An AudioWorklet exists only in a secure context (https, or http on localhost/127.0.0.1). On a
// plain-http LAN address the player falls back to AudioBufferSourceNodes scheduled back to back
// on the context clock (sample-exact too, just less tolerant of a busy main thread).
import { SAMPLE_RATE } from "./pcm.js";

export class StreamPlayer {
  constructor({ sampleRate = SAMPLE_RATE, onProgress = () => {}, forceBuffers = false } = {}) {
    this.sampleRate = sampleRate;
    this.onProgress = onProgress;
    this.forceBuffers = forceBuffers;
    this.context = null;
    this.sink = null;
    this.resetCounts();
  }

  resetCounts() {
    this.scheduled = 0; // samples handed to the audio thread for this playback
    this.played = 0;
    this.underruns = 0;
    this.firstPushAt = null;
  }

  get kind() {
    return this.sink ? this.sink.kind : null;
  }

  /** Create (first call, which must follow a click) or resume the context; start a new playback. */
  async begin() {
    if (this.context === null) {
      this.context = new AudioContext({ sampleRate: this.sampleRate, latencyHint: "interactive" });
      const worklet = !this.forceBuffers && this.context.audioWorklet;
      this.sink = worklet ? await WorkletSink.create(this.context, this) : new BufferSink(this.context, this);
    }
    if (this.context.state !== "running") await this.context.resume();
    this.settle(); // whatever played before is over
    this.sink.reset();
    this.resetCounts();
    this.finished = new Promise((resolve) => {
      this.resolveFinished = resolve;
    });
  }

  /** Queue float samples for playback right after those already queued. */
  push(samples) {
    if (samples.length === 0) return;
    if (this.firstPushAt === null) this.firstPushAt = performance.now();
    this.scheduled += samples.length;
    this.sink.push(samples);
  }

  /** No more samples: `finished` resolves once the last one has played. */
  end() {
    this.sink.end();
  }

  /** Silence now and forget what is queued. */
  stop() {
    if (this.sink) this.sink.stop();
    this.settle();
  }

  progress({ played, underruns }) {
    this.played = played;
    this.underruns = underruns;
    this.onProgress(this);
  }

  settle() {
    if (this.resolveFinished) this.resolveFinished();
    this.resolveFinished = null;
  }

  /** Counts for the tests and the page: { kind, scheduled, played, underruns }. */
  stats() {
    return { kind: this.kind, scheduled: this.scheduled, played: this.played, underruns: this.underruns };
  }
}

class WorkletSink {
  static async create(context, player) {
    await context.audioWorklet.addModule(new URL("./player-worklet.js", import.meta.url));
    return new WorkletSink(context, player);
  }

  constructor(context, player) {
    this.kind = "worklet";
    this.node = new AudioWorkletNode(context, "pcm-player", { outputChannelCount: [1] });
    this.node.connect(context.destination);
    this.playback = 0;
    this.node.port.onmessage = (event) => {
      if (event.data.playback !== this.playback) return; // late news of an earlier playback
      player.progress(event.data);
      if (event.data.type === "drained") player.settle();
    };
  }

  reset() {
    this.playback += 1;
    this.node.port.postMessage({ type: "reset", playback: this.playback });
  }

  push(samples) {
    // Transferred, not copied: the page does not touch the array again.
    this.node.port.postMessage({ type: "push", samples }, [samples.buffer]);
  }

  end() {
    this.node.port.postMessage({ type: "end" });
  }

  stop() {
    this.node.port.postMessage({ type: "stop" });
  }
}

// Schedule this far ahead of the clock when a chunk finds the queue empty (a start or a gap).
const BUFFER_LEAD_S = 0.05;

class BufferSink {
  constructor(context, player) {
    this.kind = "buffers";
    this.context = context;
    this.player = player;
    this.reset();
  }

  reset() {
    this.sources = new Set();
    this.nextAt = 0;
    this.played = 0;
    this.underruns = 0;
    this.ended = false;
  }

  push(samples) {
    const buffer = this.context.createBuffer(1, samples.length, this.context.sampleRate);
    buffer.copyToChannel(samples, 0);
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.context.destination);
    const now = this.context.currentTime;
    if (this.nextAt < now) {
      if (this.nextAt > 0) this.underruns += 1;
      this.nextAt = now + BUFFER_LEAD_S;
    }
    source.start(this.nextAt);
    this.nextAt += samples.length / this.context.sampleRate;
    this.sources.add(source);
    source.onended = () => {
      this.sources.delete(source);
      this.played += samples.length;
      this.player.progress({ played: this.played, underruns: this.underruns });
      if (this.ended && this.sources.size === 0) this.player.settle();
    };
  }

  end() {
    this.ended = true;
    if (this.sources.size === 0) this.player.settle();
  }

  stop() {
    for (const source of this.sources) {
      source.onended = null;
      source.stop();
    }
    this.reset();
  }
}
