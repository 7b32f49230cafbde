// The page's entry point: state in one place (the App), tabs, the key prompt, and the status
// poll that turns the page usable when the models are ready (and again after a server restart).
import { Api, keyStore } from "./api.js";
import { ChatView } from "./chat.js";
import { $ } from "./dom.js";
import { StreamPlayer } from "./player.js";
import { ResultStore } from "./results.js";
import { SpeechView } from "./speech.js";
import { StatusView } from "./status.js";
import { VoicesView } from "./voices.js";

// How often the status is asked for: often while waiting for the server, calmly once ready.
const POLL_WAITING_MS = 1000;
const POLL_READY_MS = 3000;

class App {
  constructor() {
    this.api = new Api();
    const params = new URLSearchParams(location.search);
    this.player = new StreamPlayer({ forceBuffers: params.get("player") === "buffers" });
    this.results = new ResultStore();
    this.ready = false;
    this.audioOwner = null;
    this.askingKey = false;
    this.status = new StatusView();
    this.speech = new SpeechView(this);
    this.chat = new ChatView(this);
    this.voices = new VoicesView(this);
    this.pollTimer = null;
  }

  async start() {
    setupTabs();
    this.setupKeyDialog();
    $("forget-key").addEventListener("click", () => {
      keyStore.clear();
      this.poll();
    });
    try {
      await this.results.open();
      await this.speech.renderResults();
    } catch (error) {
      // Private windows may refuse IndexedDB: the page works, it just keeps no results.
      this.results = { add: async () => {}, list: async () => [], remove: async () => {} };
      console.warn("results will not be kept:", error);
    }
    await this.poll();
  }

  /** The one who plays now; whoever played before is stopped (its request too). */
  takeAudio(owner) {
    if (this.audioOwner && this.audioOwner !== owner) this.audioOwner.release();
    this.audioOwner = owner;
    return this.player;
  }

  playing(owner) {
    return this.audioOwner === owner;
  }

  /** Show an API failure as its message; a refused key opens the key prompt. */
  reportError(error, where) {
    where.textContent = error.message;
    where.hidden = false;
    if (error.unauthorized) this.askKey(error.message);
  }

  async poll() {
    clearTimeout(this.pollTimer);
    let next = POLL_WAITING_MS;
    try {
      const status = await this.api.status();
      await this.setServer(status);
      if (status.status === "ready") next = POLL_READY_MS;
    } catch (error) {
      if (error.unauthorized) {
        this.setReady(false);
        this.status.show("unauthorized", error.message);
        this.askKey(error.message);
      } else {
        this.setReady(false);
        this.status.show("unreachable", error.message);
      }
    }
    this.pollTimer = setTimeout(() => this.poll(), next);
  }

  async setServer(status) {
    const ready = status.status === "ready";
    if (ready && !this.ready) {
      // Newly ready (first load, or back after a restart): the voices may have changed.
      await this.refreshVoices();
    }
    this.speech.configure(status);
    this.chat.configure(status);
    this.status.show(status.status, status.message, status);
    $("forget-key").hidden = !keyStore.get();
    this.setReady(ready);
  }

  /** Read the voices again (after a start, or a custom voice made or deleted) into every picker. */
  async refreshVoices() {
    const voices = await this.api.voices();
    this.speech.setVoices(voices);
    this.chat.setVoices(voices);
    this.voices.setVoices(voices);
  }

  setReady(ready) {
    this.ready = ready;
    this.speech.updateButtons();
    this.chat.updateButtons();
    this.voices.updateButtons();
  }

  setupKeyDialog() {
    const dialog = $("key-dialog");
    const input = $("key-input");
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = input.value.trim();
      if (!key) return;
      keyStore.set(key);
      this.askingKey = false;
      dialog.close();
      this.poll();
    });
    dialog.addEventListener("cancel", (event) => event.preventDefault()); // nothing works without it
  }

  askKey(message) {
    if (this.askingKey) return;
    this.askingKey = true;
    const error = $("key-error");
    // A key was sent and refused: say so, in the server's words. First time: just ask.
    const refused = keyStore.get() !== null;
    error.textContent = refused ? message : "";
    error.hidden = !refused;
    if (refused) keyStore.clear();
    const input = $("key-input");
    input.value = "";
    $("key-dialog").showModal();
    input.focus();
  }
}

function setupTabs() {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  const select = (tab, focus = true) => {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
      $(other.getAttribute("aria-controls")).hidden = !selected;
    }
    if (focus) tab.focus();
    history.replaceState(null, "", `#${tab.id.replace("tab-", "")}`);
  };
  tabs.forEach((tab, index) => {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (event) => {
      const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 };
      if (!(event.key in moves)) return;
      event.preventDefault();
      select(tabs[(moves[event.key] + tabs.length) % tabs.length]);
    });
  });
  const fromHash = tabs.find((tab) => tab.id === `tab-${location.hash.slice(1)}`);
  if (fromHash) select(fromHash, false);
}

const app = new App();
// A handle for the browser tests and for curious people in the console; nothing depends on it.
window.orpheus = app;
app.start();
