// The Voice chat tab: each turn goes to /chat as events (chat_events.py on the server): the
// reply's text shows as it is written, its speech plays sentence by sentence as it arrives,
// through the same player, so the sentences join into one continuous voice. The conversation is
// kept here and sent with each turn; a new message interrupts a reply still speaking.
import { $, fillVoices, h, showError } from "./dom.js";
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
  }

  configure(status) {
    this.maxHistory = status.limits.max_history_messages;
  }

  setVoices(listing) {
    this.voices = listing;
    fillVoices(this.el.voice, listing);
    this.updateButtons();
  }

  updateButtons() {
    this.el.send.disabled = !(this.app.ready && this.voices && this.el.input.value.trim());
  }

  async send() {
    const message = this.el.input.value.trim();
    if (!message || this.el.send.disabled) return;
    this.interrupt(); // a reply still being written or spoken ends here
    this.el.input.value = "";
    this.updateButtons();
    showError(this.el.error, "");
    const voice = this.voices.voices.find((v) => v.key === this.el.voice.value);
    const body = { message, voice: voice ? voice.id : undefined, history: this.history.slice(-this.maxHistory) };
    this.history.push({ role: "user", content: message });
    this.el.log.append(h("li", { className: "user" }, message));
    const bubble = h("li", { className: "assistant", "data-state": "writing" });
    this.el.log.append(bubble);

    const player = this.app.takeAudio(this);
    const controller = new AbortController();
    this.controller = controller;
    this.el.stop.disabled = false;
    const decoder = new Pcm16Decoder();
    let written = "";
    try {
      const ready = player.begin(); // while the request goes out
      const events = this.app.api.chat(body, controller.signal);
      await ready;
      for await (const event of events) {
        if (event.type === "response.text.delta") {
          written += event.delta;
          bubble.textContent = written;
          bubble.scrollIntoView({ block: "nearest" });
        } else if (event.type === "response.audio.delta") {
          player.push(decoder.decode(base64ToBytes(event.audio)));
        } else if (event.type === "response.done") {
          written = event.text;
          bubble.textContent = written;
        }
      }
      player.end();
      bubble.dataset.state = "done";
    } catch (error) {
      if (error.name !== "AbortError") {
        player.stop();
        this.app.reportError(error, this.el.error);
      }
      bubble.dataset.state = written ? "interrupted" : "failed";
      if (!written) bubble.remove();
    } finally {
      // What was written stays in the conversation, also when it was cut short.
      if (written) this.history.push({ role: "assistant", content: written });
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

  /** End the reply in progress: its request (the server stops generating) and its speech. */
  interrupt() {
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
