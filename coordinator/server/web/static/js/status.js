// The Status tab and the badge in the header: ready or loading, the loaded models (name,
// quantization, device), and how many streams run and wait.
import { $, h } from "./dom.js";

const STATE_TEXT = {
  ready: "ready",
  loading: "loading models…",
  failed: "loading failed",
  shutting_down: "shutting down",
  unreachable: "server unreachable",
  unauthorized: "API key needed",
};
const ROLE_TEXT = { tts: "speech", llm: "chat", codec: "audio codec", stt: "speech in" };

export class StatusView {
  constructor() {
    this.el = {
      badge: $("server-state"),
      banner: $("banner"),
      state: $("status-state"),
      version: $("status-version"),
      active: $("status-active"),
      queued: $("status-queued"),
      message: $("status-message"),
      models: $("status-models").querySelector("tbody"),
    };
  }

  /** `state`: the server's status, or "unreachable" / "unauthorized"; `message`: why, if not ready. */
  show(state, message, status = null) {
    const text = STATE_TEXT[state] ?? state;
    this.el.badge.textContent = text;
    this.el.badge.dataset.state = state;
    this.el.state.textContent = text;
    this.el.message.textContent = message ?? "";
    this.el.banner.hidden = state === "ready";
    this.el.banner.textContent = state === "ready" ? "" : bannerText(state, message);
    if (status === null) return;
    this.el.version.textContent = status.version;
    const engines = status.models.filter((m) => m.role !== "codec");
    this.el.active.textContent = String(engines.reduce((n, m) => n + m.active, 0));
    this.el.queued.textContent = String(engines.reduce((n, m) => n + m.queued, 0));
    this.el.models.replaceChildren(
      ...status.models.map((m) =>
        h(
          "tr",
          { "data-role": m.role },
          h("td", {}, ROLE_TEXT[m.role] ?? m.role),
          h("td", {}, m.name, h("br"), h("small", {}, m.id)),
          h("td", {}, m.quantization),
          h("td", {}, m.device.toUpperCase()),
          h("td", {}, m.role === "codec" ? "–" : `${m.active} / ${m.capacity}`),
          h("td", {}, m.role === "codec" ? "–" : String(m.queued)),
        ),
      ),
    );
  }
}

function bannerText(state, message) {
  if (state === "loading") return `The models are loading; the page turns usable by itself once they are ready. (${message ?? ""})`;
  if (state === "unreachable") return "The server cannot be reached. Retrying…";
  if (state === "unauthorized") return "This server needs an API key.";
  return message ?? STATE_TEXT[state] ?? state;
}
