// Push-to-talk for the voice chat: hold the button (or Space/Enter on it) to record from the
// microphone; on release the recording goes to /chat as the user's turn (base64 audio in the JSON
// body), where Whisper transcribes it before Gemma answers. MediaRecorder records webm/opus in
// Chromium and Firefox and mp4/aac in Safari: the server decodes either. No DOM beyond its button.
import { h } from "./dom.js";

// A press shorter than this is a click, not speech: it only shows the hint.
const MIN_RECORDING_MS = 300;
const PREFERRED_TYPES = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4"];

export function microphoneSupported() {
  return Boolean(globalThis.isSecureContext && navigator.mediaDevices?.getUserMedia && globalThis.MediaRecorder);
}

/** The bytes of ``blob`` as base64 (chunked: String.fromCharCode takes a bounded argument list). */
export async function blobToBase64(blob) {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let text = "";
  const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) text += String.fromCharCode(...bytes.subarray(i, i + step));
  return btoa(text);
}

export class PushToTalk {
  /** ``onRecording(blob)`` gets each recording; ``onError(message)`` what went wrong. */
  constructor(slot, { onRecording, onError, onStart }) {
    this.onRecording = onRecording;
    this.onError = onError;
    this.onStart = onStart;
    this.recorder = null;
    this.started = 0;
    this.available = false;
    this.supported = microphoneSupported();
    this.button = h(
      "button",
      {
        type: "button",
        id: "chat-mic",
        className: "mic",
        "aria-pressed": "false",
        title: this.supported
          ? "Hold to talk, release to send"
          : "The microphone needs a secure page (https, or http://localhost)",
      },
      "Hold to talk",
    );
    this.button.disabled = true;
    slot.append(this.button);
    const down = (event) => {
      event.preventDefault();
      this.start();
    };
    const up = (event) => {
      event.preventDefault();
      this.stop();
    };
    this.button.addEventListener("pointerdown", down);
    this.button.addEventListener("pointerup", up);
    this.button.addEventListener("pointerleave", () => this.stop());
    this.button.addEventListener("keydown", (event) => {
      if ((event.key === " " || event.key === "Enter") && !event.repeat) down(event);
    });
    this.button.addEventListener("keyup", (event) => {
      if (event.key === " " || event.key === "Enter") up(event);
    });
  }

  /** Enabled when the server hears speech (a Whisper is loaded) and can answer now. */
  setAvailable(available) {
    this.available = available;
    this.button.disabled = !(available && this.supported);
    this.button.hidden = !available;
  }

  get recording() {
    return this.recorder !== null;
  }

  async start() {
    if (this.recorder || this.button.disabled) return;
    this.button.setAttribute("aria-pressed", "true");
    this.started = performance.now();
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
      });
    } catch (error) {
      this.button.setAttribute("aria-pressed", "false");
      this.onError(`the microphone is not available (${error.name}): allow it for this page`);
      return;
    }
    const mimeType = PREFERRED_TYPES.find((type) => MediaRecorder.isTypeSupported(type));
    const recorder = new MediaRecorder(stream, mimeType ? { mimeType } : {});
    const chunks = [];
    recorder.addEventListener("dataavailable", (event) => event.data.size && chunks.push(event.data));
    recorder.addEventListener("stop", () => {
      stream.getTracks().forEach((track) => track.stop());
      const held = performance.now() - this.started;
      if (held < MIN_RECORDING_MS || !chunks.length) {
        this.onError("hold the button while you speak, then release it");
        return;
      }
      this.onRecording(new Blob(chunks, { type: recorder.mimeType || "audio/webm" }));
    });
    this.recorder = recorder;
    recorder.start();
    this.onStart?.();
    // Released before the microphone opened: stop as soon as it has.
    if (this.button.getAttribute("aria-pressed") === "false") this.stop();
  }

  stop() {
    this.button.setAttribute("aria-pressed", "false");
    const recorder = this.recorder;
    if (!recorder) return;
    this.recorder = null;
    if (recorder.state !== "inactive") recorder.stop();
  }
}
