// The "Your voices" tab: make a custom (cloned) voice from a recording, uploaded as a file or
// recorded here from the microphone, with an optional transcript and a name; list the custom voices,
// hear each one say a sample sentence, delete them. The server prepares the recording (24 kHz,
// trimmed, normalised), writes the transcript with its Whisper when none is given and encodes it
// once: that takes a while on a CPU, so the creation shows where it is.
import { $, h, showError } from "./dom.js";
import { microphoneSupported } from "./mic.js";

// The server's own bound is VOICE_SAMPLE_MAX_S (30 s by default, after trimming silence): the
// recorder stops itself a little past it, and the server says so if the speech is too long.
const MAX_RECORDING_MS = 35_000;
const TICK_MS = 250;
const PREFERRED_TYPES = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4"];
export const SAMPLE_SENTENCE = "Hello! This is my own voice, speaking through Orpheus.";
const EXTENSIONS = { "audio/webm": "webm", "audio/ogg": "ogg", "audio/mp4": "m4a" };

/** A file name for a recorded blob, from its container type (the server probes the bytes anyway). */
export function recordingName(type) {
  const base = (type || "audio/webm").split(";")[0];
  return `recording.${EXTENSIONS[base] ?? "webm"}`;
}

/** Click to start, click to stop: the microphone's recording as one Blob. */
class Recorder {
  constructor(onDone, onError) {
    this.onDone = onDone;
    this.onError = onError;
    this.recorder = null;
    this.started = 0;
    this.limit = null;
  }

  get recording() {
    return this.recorder !== null;
  }

  async start() {
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true } });
    } catch (error) {
      this.onError(`the microphone is not available (${error.name}): allow it for this page`);
      return false;
    }
    const mimeType = PREFERRED_TYPES.find((type) => MediaRecorder.isTypeSupported(type));
    const recorder = new MediaRecorder(stream, mimeType ? { mimeType } : {});
    const chunks = [];
    recorder.addEventListener("dataavailable", (event) => event.data.size && chunks.push(event.data));
    recorder.addEventListener("stop", () => {
      stream.getTracks().forEach((track) => track.stop());
      const seconds = (performance.now() - this.started) / 1000;
      this.onDone(new Blob(chunks, { type: recorder.mimeType || "audio/webm" }), seconds);
    });
    this.recorder = recorder;
    this.started = performance.now();
    recorder.start();
    this.limit = setTimeout(() => this.stop(), MAX_RECORDING_MS);
    return true;
  }

  elapsed() {
    return this.recorder ? (performance.now() - this.started) / 1000 : 0;
  }

  stop() {
    clearTimeout(this.limit);
    const recorder = this.recorder;
    this.recorder = null;
    if (recorder && recorder.state !== "inactive") recorder.stop();
  }
}

export class VoicesView {
  constructor(app) {
    this.app = app;
    this.sample = null; // { blob, name, label }
    this.creating = false;
    this.custom = [];
    this.el = {
      form: $("voice-form"),
      name: $("voice-name"),
      file: $("voice-file"),
      record: $("voice-record"),
      sample: $("voice-sample"),
      transcript: $("voice-transcript"),
      consent: $("voice-consent"),
      create: $("voice-create"),
      progress: $("voice-progress"),
      progressBar: $("voice-progress-bar"),
      progressText: $("voice-progress-text"),
      error: $("voice-error"),
      list: $("voice-list"),
      empty: $("voice-list-empty"),
    };
    this.recorder = new Recorder(
      (blob, seconds) => this.setSample(blob, recordingName(blob.type), `recorded, ${seconds.toFixed(1)} s`),
      (message) => this.fail(message),
    );
    this.ticker = null;
    if (!microphoneSupported()) {
      this.el.record.disabled = true;
      this.el.record.title = "The microphone needs a secure page (https, or http://localhost)";
    }
    this.el.record.addEventListener("click", () => this.toggleRecording());
    this.el.file.addEventListener("change", () => {
      const file = this.el.file.files[0];
      if (file) this.setSample(file, file.name, `file ${file.name}`);
    });
    this.el.name.addEventListener("input", () => this.updateButtons());
    this.el.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.create();
    });
  }

  /** The custom voices of a listing (normalizeVoices' shape), shown in the list. */
  setVoices(listing) {
    this.custom = listing.voices.filter((v) => v.custom);
    this.el.list.replaceChildren(...this.custom.map((voice) => this.item(voice)));
    this.el.empty.hidden = this.custom.length > 0;
    this.updateButtons();
  }

  item(voice) {
    const played = h("audio", { controls: true, hidden: true, "aria-label": `${voice.name} says the sample sentence` });
    const play = h("button", { type: "button", className: "play" }, "Play");
    const remove = h("button", { type: "button", className: "delete" }, "Delete");
    const li = h(
      "li",
      { "data-voice": voice.id },
      h("span", { className: "what" }, voice.name, h("span", { className: "meta" }, voice.id)),
      h("span", { className: "controls" }, play, remove, played),
    );
    play.addEventListener("click", () => this.play(voice, li, play, played));
    remove.addEventListener("click", () => this.remove(voice, li, remove));
    return li;
  }

  updateButtons() {
    const ready = this.app.ready && this.sample !== null && this.el.name.value.trim() !== "";
    this.el.create.disabled = !ready || this.creating || this.recorder.recording;
  }

  setSample(blob, name, label) {
    this.sample = { blob, name };
    this.el.sample.textContent = `Recording: ${label} (${Math.round(blob.size / 1024)} KiB).`;
    showError(this.el.error, "");
    this.updateButtons();
  }

  async toggleRecording() {
    if (this.recorder.recording) {
      this.recorder.stop();
      clearInterval(this.ticker);
      this.el.record.setAttribute("aria-pressed", "false");
      this.el.record.textContent = "Record";
      this.updateButtons();
      return;
    }
    showError(this.el.error, "");
    if (!(await this.recorder.start())) return;
    this.el.record.setAttribute("aria-pressed", "true");
    this.el.record.textContent = "Stop recording";
    this.el.sample.textContent = "Recording… speak now, then press Stop recording.";
    this.ticker = setInterval(() => {
      this.el.sample.textContent = `Recording… ${this.recorder.elapsed().toFixed(1)} s`;
    }, TICK_MS);
    this.updateButtons();
  }

  fail(message) {
    showError(this.el.error, message);
  }

  progress(text, fraction) {
    this.el.progress.hidden = text === null;
    this.el.progressText.textContent = text ?? "";
    if (fraction === null || fraction === undefined) this.el.progressBar.removeAttribute("value");
    else this.el.progressBar.value = fraction;
  }

  async create() {
    if (this.el.create.disabled) return;
    const form = new FormData();
    form.append("name", this.el.name.value.trim());
    form.append("audio_sample", this.sample.blob, this.sample.name);
    const transcript = this.el.transcript.value.trim();
    if (transcript) form.append("transcript", transcript);
    const consent = this.el.consent.files[0];
    if (consent) form.append("consent", consent, consent.name);
    this.creating = true;
    this.updateButtons();
    showError(this.el.error, "");
    this.progress("Uploading…", 0);
    try {
      const voice = await this.app.api.createVoice(form, {
        onProgress: (fraction) =>
          fraction === null
            ? this.progress(
                transcript
                  ? "The server is preparing the recording and encoding it…"
                  : "The server is transcribing the recording, preparing and encoding it…",
                null,
              )
            : this.progress(`Uploading… ${Math.round(fraction * 100)}%`, fraction),
      });
      this.el.form.reset();
      this.sample = null;
      this.el.sample.textContent = `Created ${voice.name} (${voice.id}).`;
      await this.app.refreshVoices();
    } catch (error) {
      this.app.reportError(error, this.el.error);
    } finally {
      this.creating = false;
      this.progress(null);
      this.updateButtons();
    }
  }

  /** Speak the sample sentence in ``voice`` (a whole WAV, then played in the list's player). */
  async play(voice, li, button, player) {
    button.disabled = true;
    li.dataset.state = "speaking";
    showError(this.el.error, "");
    try {
      const body = { input: SAMPLE_SENTENCE, voice: voice.id, response_format: "wav", stream_format: "audio" };
      if (voice.model) body.model = voice.model;
      const response = await this.app.api.speech(body);
      const blob = await response.blob();
      if (player.src) URL.revokeObjectURL(player.src);
      player.src = URL.createObjectURL(blob);
      player.hidden = false;
      li.dataset.state = "spoken";
      await player.play().catch(() => {}); // autoplay may be refused: the controls are there
    } catch (error) {
      delete li.dataset.state;
      this.app.reportError(error, this.el.error);
    } finally {
      button.disabled = false;
    }
  }

  async remove(voice, li, button) {
    if (!confirm(`Delete the voice ${voice.name}? Its recording is deleted from the server.`)) return;
    button.disabled = true;
    try {
      await this.app.api.deleteVoice(voice.id);
      li.dataset.state = "deleted";
      await this.app.refreshVoices(); // redraws the list, and the pickers, without it
    } catch (error) {
      button.disabled = false;
      this.app.reportError(error, this.el.error);
    }
  }
}
