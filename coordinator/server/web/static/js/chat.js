// The Voice chat tab: each turn goes to /chat as events (chat_events.py on the server): the
// reply's text shows as it is written, its speech plays sentence by sentence as it arrives,
// through the same player, so the sentences join into one continuous voice. The conversation is
// kept here and sent with each turn; a new message interrupts a reply still speaking. A turn may
// also be spoken (push-to-talk, mic.js): the server transcribes it and sends the transcript first.
import { $, fillVoices, h, showError } from "./dom.js";
import { blobToBase64, PushToTalk } from "./mic.js";
import { base64ToBytes, Pcm16Decoder } from "./pcm.js";

export class ChatView {
  constructor(app) {
    this.app = app;
    this.history = []; // {role, content}: what the server gets as `history`
    this.maxHistory = 50;
    this.voices = null;
    this.controller = null;
    this.el = {
      log: $("chat-log"),
      form: $("chat-form"),
      input: $("chat-input"),
      voice: $("chat-voice"),
      send: $("chat-send"),
      stop: $("chat-stop"),
      clear: $("chat-clear"),
      error: $("chat-error"),
    };
    this.el.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.el.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.send();
      }
    });
    this.el.input.addEventListener("input", () => this.updateButtons());
    this.el.stop.addEventListener("click", () => this.interrupt());
    this.el.clear.addEventListener("click", () => this.clear());
    this.mic = new PushToTalk($("chat-mic-slot"), {
      onStart: () => this.interrupt(), // speaking over the reply stops it
      onRecording: (blob) => this.sendRecording(blob),
      onError: (message) => showError(this.el.error, message),
    });
    this.hears = false;
  }

  configure(status) {
    this.maxHistory = status.limits.max_history_messages;
    this.hears = status.models.some((m) => m.role === "stt");
    this.updateButtons();
  }

  setVoices(listing) {
    this.voices = listing;
    fillVoices(this.el.voice, listing);
    this.updateButtons();
  }

  updateButtons() {
    this.el.send.disabled = !(this.app.ready && this.voices && this.el.input.value.trim());
    this.mic.setAvailable(Boolean(this.hears && this.app.ready && this.voices));
  }

  async send() {
    const message = this.el.input.value.trim();
    if (!message || this.el.send.disabled) return;
    this.el.input.value = "";
    this.updateButtons();
    await this.converse({ message }, message);
  }

  /** A spoken turn: its words show once the server has transcribed them. */
  async sendRecording(blob) {
    if (!this.app.ready || !this.voices) return;
    await this.converse({ audio: await blobToBase64(blob) }, null);
  }

  async converse(turnBody, message) {
    this.interrupt(); // a reply still being written or spoken ends here
    showError(this.el.error, "");
    const voice = this.voices.voices.find((v) => v.key === this.el.voice.value);
    const body = { ...turnBody, voice: voice ? voice.id : undefined, history: this.recentHistory() };
    const said = h("li", { className: "user" }, message ?? "…");
    if (message === null) said.dataset.state = "transcribing";
    this.el.log.append(said);
    const bubble = h("li", { className: "assistant", "data-state": "writing" });
    this.el.log.append(bubble);
    const turn = { message, written: "", recorded: false };
    this.turn = turn;

    const player = this.app.takeAudio(this);
    const controller = new AbortController();
    this.controller = controller;
    this.el.stop.disabled = false;
    const decoder = new Pcm16Decoder();
    try {
      // The player gets ready while the request goes out.
      const [events] = await Promise.all([this.app.api.chat(body, controller.signal), player.begin()]);
      for await (const event of events) {
        if (event.type === "input.transcript") {
          turn.message = event.text;
          said.textContent = event.text;
          delete said.dataset.state;
        } else if (event.type === "response.text.delta") {
          turn.written += event.delta;
          bubble.textContent = turn.written;
          bubble.scrollIntoView({ block: "nearest" });
        } else if (event.type === "response.audio.delta") {
          player.push(decoder.decode(base64ToBytes(event.audio)));
        } else if (event.type === "response.done") {
          turn.written = event.text;
          bubble.textContent = turn.written;
        }
      }
      player.end();
      bubble.dataset.state = "done";
    } catch (error) {
      if (error.name !== "AbortError") {
        player.stop();
        this.app.reportError(error, this.el.error);
      }
      bubble.dataset.state = turn.written ? "interrupted" : "failed";
      if (!turn.written) bubble.remove();
      if (turn.message === null) said.remove(); // a recording that was never transcribed
    } finally {
      this.record(turn);
      if (this.controller === controller) this.controller = null;
      if (this.app.playing(this)) {
        player.finished.then(() => {
          if (this.controller === null) this.el.stop.disabled = true;
        });
      } else {
        this.el.stop.disabled = true;
      }
    }
    this.app.speechSamplesOfLastChat = decoder.samples;
  }

  /** As much of the conversation as the server takes (MAX_HISTORY_MESSAGES), from a user turn. */
  recentHistory() {
    const recent = this.history.slice(-this.maxHistory);
    return recent.length && recent[0].role === "assistant" ? recent.slice(1) : recent;
  }

  /** Put a turn into the conversation, once. Called at once when a reply is interrupted, so
   * that the next message comes after it (Gemma's template wants user and assistant to
   * alternate). What was written stays, also when it was cut short; a message that got no
   * answer at all is left out of what the model sees. */
  record(turn) {
    if (turn.recorded) return;
    turn.recorded = true;
    if (!turn.written) return;
    this.history.push({ role: "user", content: turn.message }, { role: "assistant", content: turn.written });
  }

  /** End the reply in progress: its request (the server stops generating) and its speech. */
  interrupt() {
    if (this.turn) this.record(this.turn);
    if (this.controller) this.controller.abort();
    this.controller = null;
    if (this.app.playing(this)) this.app.player.stop();
    this.el.stop.disabled = true;
  }

  /** Another view takes the audio over. */
  release() {
    this.interrupt();
  }

  clear() {
    this.interrupt();
    this.history = [];
    this.el.log.replaceChildren();
  }
}
