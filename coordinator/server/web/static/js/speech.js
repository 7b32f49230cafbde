// The Speech tab: text, voice, tags, speed and sampling knobs; Speak streams and plays while the
// server generates; Stop ends both; results are kept in the browser to replay or download.
import { $, download, fillVoices, h, seconds, showError } from "./dom.js";
import {
  base64ToBytes,
  concatInt16,
  littleEndianBytes,
  Pcm16Decoder,
  SAMPLE_RATE,
  toFloat32,
  toInt16,
  wavBlob,
} from "./pcm.js";
import { ReadAlong } from "./read-along.js";

export const EMOTION_TAGS = ["<laugh>", "<chuckle>", "<sigh>", "<cough>", "<sniffle>", "<groan>", "<yawn>", "<gasp>"];
export const FORMATS = ["wav", "mp3", "opus", "aac", "flac", "pcm"];
// Seeds the page picks itself stay in JavaScript's exact integers.
const RANDOM_SEED_LIMIT = 2 ** 31;
const PREVIEW_CHARS = 80;

export class SpeechView {
  constructor(app) {
    this.app = app;
    this.maxChars = 4096;
    this.voices = null;
    this.controller = null;
    this.el = {
      form: $("speech-form"),
      text: $("speech-text"),
      count: $("speech-count"),
      tags: $("speech-tags"),
      voice: $("speech-voice"),
      speed: $("speech-speed"),
      speedValue: $("speech-speed-value"),
      temperature: $("speech-temperature"),
      topP: $("speech-top-p"),
      repetition: $("speech-repetition"),
      seed: $("speech-seed"),
      maxTokens: $("speech-max-tokens"),
      speak: $("speech-speak"),
      stop: $("speech-stop"),
      error: $("speech-error"),
      ttfa: $("metric-ttfa"),
      rtf: $("metric-rtf"),
      duration: $("metric-duration"),
      seedShown: $("metric-seed"),
      results: $("results"),
      resultsEmpty: $("results-empty"),
      readAlong: $("speech-read-along"),
    };
    this.readAlong = new ReadAlong($("speech-words"));
    for (const tag of EMOTION_TAGS) {
      this.el.tags.append(h("button", { type: "button", onclick: () => this.insertTag(tag) }, tag));
    }
    this.el.text.addEventListener("input", () => this.updateCount());
    this.el.speed.addEventListener("input", () => this.updateSpeed());
    this.el.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.speak();
    });
    this.el.stop.addEventListener("click", () => this.stop());
    this.updateCount();
    this.updateSpeed();
  }

  insertTag(tag) {
    const { text } = this.el;
    text.setRangeText(tag, text.selectionStart, text.selectionEnd, "end");
    text.focus();
    this.updateCount();
  }

  updateCount() {
    const length = this.el.text.value.length;
    this.el.count.textContent = `${length} / ${this.maxChars}`;
    this.el.count.classList.toggle("over", length > this.maxChars);
    this.updateButtons();
  }

  updateSpeed() {
    this.el.speedValue.textContent = `${Number(this.el.speed.value).toFixed(2)}×`;
  }

  updateButtons() {
    const text = this.el.text.value;
    const usable = this.app.ready && this.voices && text.trim() && text.length <= this.maxChars;
    this.el.speak.disabled = !usable || this.controller !== null;
  }

  /** The server's limits and defaults, from /v1/status. */
  configure(status) {
    this.maxChars = status.limits.max_input_chars;
    const defaults = status.speech_defaults;
    if (defaults) {
      this.el.temperature.placeholder = defaults.temperature;
      this.el.topP.placeholder = defaults.top_p;
      this.el.repetition.placeholder = defaults.repetition_penalty;
      this.el.maxTokens.placeholder = defaults.max_tokens;
      this.el.maxTokens.max = status.limits.max_completion_tokens;
    }
    this.updateCount();
  }

  setVoices(listing) {
    this.voices = listing;
    fillVoices(this.el.voice, listing);
    this.updateButtons();
  }

  /** The request for the form as it is; the seed is always set, so a result can be made again. */
  request() {
    const voice = this.voices.voices.find((v) => v.key === this.el.voice.value) ?? this.voices.voices[0];
    const number = (input) => (input.value.trim() === "" ? undefined : Number(input.value));
    const seed = number(this.el.seed) ?? Math.floor(Math.random() * RANDOM_SEED_LIMIT);
    const body = {
      model: voice.model ?? "tts-1",
      input: this.el.text.value,
      voice: voice.id,
      response_format: "pcm",
      speed: Number(this.el.speed.value),
      temperature: number(this.el.temperature),
      top_p: number(this.el.topP),
      repetition_penalty: number(this.el.repetition),
      max_tokens: number(this.el.maxTokens),
      seed,
    };
    return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined));
  }

  async speak() {
    const body = this.request();
    this.app.lastSpeechRequest = body;
    const player = this.app.takeAudio(this);
    const controller = new AbortController();
    this.controller = controller;
    this.updateButtons();
    this.el.stop.disabled = false;
    showError(this.el.error, "");
    for (const el of [this.el.ttfa, this.el.rtf, this.el.duration]) el.textContent = "…";
    this.el.seedShown.textContent = String(body.seed);
    const started = performance.now();
    const decoder = new Pcm16Decoder();
    const kept = [];
    let ttfa = null;
    const readAlong = this.el.readAlong.checked;
    if (readAlong) this.readAlong.reset(body.input);
    else this.readAlong.hide();
    try {
      // The request goes out at once; the player gets ready while the server starts generating.
      const ask = readAlong ? this.app.api.speechEvents(body, controller.signal) : this.app.api.speech(body, controller.signal);
      const [response] = await Promise.all([ask, player.begin()]);
      if (readAlong) this.follow(player);
      for await (const value of readAlong ? this.eventAudio(response) : this.streamAudio(response)) {
        const samples = decoder.decode(value);
        if (samples.length === 0) continue;
        if (ttfa === null) {
          ttfa = (performance.now() - started) / 1000;
          this.el.ttfa.textContent = seconds(ttfa);
        }
        kept.push(toInt16(samples)); // before push(): the player takes the array's buffer
        player.push(samples);
        this.el.duration.textContent = seconds(decoder.samples / SAMPLE_RATE);
      }
      player.end();
      const audioS = decoder.samples / SAMPLE_RATE;
      const rtf = audioS > 0 ? (performance.now() - started) / 1000 / audioS : null;
      this.el.rtf.textContent = rtf === null ? "–" : rtf.toFixed(2);
      this.app.lastSpeechMetrics = { ttfa, rtf, audioS }; // for benchmarks/web_first_audio.py
      await this.keep({ request: body, samples: concatInt16(kept), ttfa, rtf, audioS });
    } catch (error) {
      if (error.name === "AbortError") {
        this.el.rtf.textContent = "stopped";
      } else {
        player.stop();
        this.app.reportError(error, this.el.error);
        for (const el of [this.el.ttfa, this.el.rtf, this.el.duration]) el.textContent = "–";
      }
    } finally {
      if (this.controller === controller) this.controller = null;
      if (this.app.playing(this)) this.stopUsableUntilPlayed(player);
      this.updateButtons();
    }
  }

  /** The raw PCM response's bytes as they come. */
  async *streamAudio(response) {
    const reader = response.body.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      yield value;
    }
  }

  /** The speech events' audio bytes; each utterance's word timings go to the read-along. */
  async *eventAudio(events) {
    for await (const event of events) {
      if (event.type === "speech.audio.delta") yield base64ToBytes(event.audio);
      else if (event.type === "speech.audio.heard") this.readAlong.add(event.words);
    }
  }

  /** Light the word being played, frame by frame, while this view's audio plays. */
  follow(player) {
    let playing = true;
    player.finished.then(() => {
      playing = false;
    });
    const frame = () => {
      if (!playing || !this.app.playing(this)) return;
      this.readAlong.show(player.played / SAMPLE_RATE);
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  }

  /** Stop playback and the server's generation (aborting the request closes its connection,
   * which the server takes as the client leaving: it cancels the generation at once). */
  stop() {
    if (this.controller) this.controller.abort();
    this.controller = null;
    if (this.app.playing(this)) this.app.player.stop();
    this.el.stop.disabled = true;
    this.updateButtons();
  }

  /** Another view takes the audio over. */
  release() {
    this.stop();
  }

  /** Keep Stop usable while what was received is still playing. */
  stopUsableUntilPlayed(player) {
    this.el.stop.disabled = false;
    player.finished.then(() => {
      if (this.controller === null) this.el.stop.disabled = true;
    });
  }

  async keep(result) {
    if (result.samples.length === 0) return;
    await this.app.results.add({ ...result, createdAt: Date.now() });
    await this.renderResults();
  }

  async renderResults() {
    const all = await this.app.results.list();
    this.el.results.replaceChildren(...all.map((result) => this.resultItem(result)));
    this.el.resultsEmpty.hidden = all.length > 0;
  }

  resultItem(result) {
    const { request } = result;
    const format = h(
      "select",
      { "aria-label": "Download format" },
      ...FORMATS.map((f) => h("option", { value: f }, f)),
    );
    const preview = request.input.length > PREVIEW_CHARS ? `${request.input.slice(0, PREVIEW_CHARS)}…` : request.input;
    const meta = [
      request.voice,
      seconds(result.audioS),
      result.ttfa === null ? null : `first audio ${seconds(result.ttfa)}`,
      result.rtf === null ? null : `RTF ${result.rtf.toFixed(2)}`,
      `seed ${request.seed}`,
      new Date(result.createdAt).toLocaleTimeString(),
    ].filter(Boolean);
    return h(
      "li",
      { "data-id": String(result.id) },
      h("span", { className: "what" }, preview, h("span", { className: "meta" }, meta.join(" · "))),
      h(
        "span",
        { className: "controls" },
        h("button", { type: "button", onclick: () => this.replay(result) }, "Play"),
        format,
        h("button", { type: "button", onclick: () => this.download(result, format.value) }, "Download"),
        h("button", { type: "button", onclick: () => this.remove(result.id), "aria-label": "Delete this result" }, "Delete"),
      ),
    );
  }

  async replay(result) {
    const player = this.app.takeAudio(this);
    await player.begin();
    player.push(toFloat32(result.samples));
    player.end();
    this.stopUsableUntilPlayed(player);
  }

  async download(result, format) {
    const name = `speech-${result.id}.${format}`;
    if (format === "wav") return download(wavBlob(result.samples), name);
    if (format === "pcm") return download(new Blob([littleEndianBytes(result.samples)], { type: "audio/pcm" }), name);
    try {
      const response = await this.app.api.speech({ ...result.request, response_format: format });
      download(await response.blob(), name);
    } catch (error) {
      this.app.reportError(error, this.el.error);
    }
  }

  async remove(id) {
    await this.app.results.remove(id);
    await this.renderResults();
  }
}
