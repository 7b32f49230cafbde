// The API client: every call the page makes, the key, and OpenAI's error shape. Knows nothing
// of the DOM; failures are thrown as ApiError carrying the server's own `message`.
import { sseEvents } from "./sse.js";

const KEY_STORAGE = "orpheus.apiKey";
export const CUSTOM_GROUP = "Your voices";

export class ApiError extends Error {
  /** `status` 0: the server could not be reached at all. */
  constructor(message, { status = 0, code = null, param = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.param = param;
  }

  get unauthorized() {
    return this.status === 401;
  }
}

/** The key, kept for this browser session only (sessionStorage: gone when the tab closes). */
export const keyStore = {
  get: () => sessionStorage.getItem(KEY_STORAGE),
  set: (key) => sessionStorage.setItem(KEY_STORAGE, key),
  clear: () => sessionStorage.removeItem(KEY_STORAGE),
};

export class Api {
  constructor({ base = "", keys = keyStore } = {}) {
    this.base = base;
    this.keys = keys;
  }

  headers(extra = {}) {
    const key = this.keys.get();
    return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
  }

  /** fetch() that throws ApiError for a refusal (with the server's message) or no answer. */
  async request(path, { method = "GET", body, signal } = {}) {
    const init = { method, signal, headers: this.headers(body ? { "Content-Type": "application/json" } : {}) };
    if (body !== undefined) init.body = JSON.stringify(body);
    let response;
    try {
      response = await fetch(this.base + path, init);
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ApiError("the server cannot be reached: is it running? (retrying)");
    }
    if (!response.ok) throw await errorOf(response);
    return response;
  }

  async json(path, options) {
    return (await this.request(path, options)).json();
  }

  status() {
    return this.json("/v1/status");
  }

  async voices() {
    return normalizeVoices(await this.json("/v1/audio/voices"));
  }

  /** Create a custom voice from `form` (FormData: name, audio_sample, transcript?, consent?),
   * OpenAI's multipart shape. XMLHttpRequest, not fetch: only it reports the upload's progress
   * (`onProgress(fraction)`, then `onProgress(null)` once sent and the server is working). */
  createVoice(form, { onProgress = () => {}, signal } = {}) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", `${this.base}/v1/audio/voices`);
      for (const [name, value] of Object.entries(this.headers())) xhr.setRequestHeader(name, value);
      xhr.responseType = "text";
      xhr.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) onProgress(event.loaded / event.total);
      });
      xhr.upload.addEventListener("load", () => onProgress(null));
      xhr.addEventListener("load", () => {
        if (xhr.status >= 200 && xhr.status < 300) resolve(JSON.parse(xhr.responseText));
        else reject(errorOfText(xhr.status, xhr.statusText, xhr.responseText));
      });
      xhr.addEventListener("error", () => reject(new ApiError("the server cannot be reached: is it running?")));
      xhr.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
      signal?.addEventListener("abort", () => xhr.abort());
      xhr.send(form);
    });
  }

  async deleteVoice(id) {
    return this.json(`/v1/audio/voices/${encodeURIComponent(id)}`, { method: "DELETE" });
  }

  /** A streamed speech response (`body` as for /v1/audio/speech). */
  speech(body, signal) {
    return this.request("/v1/audio/speech", { method: "POST", body, signal });
  }

  /** The voice assistant's events (text and speech) for one turn: resolves once the reply has
   * started, to an async iterator of its events (a failure mid-reply is thrown as ApiError). */
  /** A speech as events: its audio, and each utterance's word timings after it (read-along:
   * `speech.audio.heard`, docs/timings.md). */
  async speechEvents(body, signal) {
    const wire = { ...body, stream_format: "sse", timings: true };
    return replyEvents(await this.request("/v1/audio/speech", { method: "POST", body: wire, signal }));
  }

  async chat(body, signal) {
    const response = await this.request("/chat", { method: "POST", body: { ...body, stream_format: "sse" }, signal });
    return replyEvents(response);
  }
}

async function* replyEvents(response) {
  for await (const event of sseEvents(response)) {
    if (event.type === "error") throw new ApiError(event.error.message, { status: 500, code: event.error.code });
    yield event;
  }
}

async function errorOf(response) {
  let message = `${response.status} ${response.statusText}`;
  let code = null;
  let param = null;
  try {
    const { error } = await response.json();
    ({ message, code = null, param = null } = error);
  } catch {
    // not OpenAI's shape (a proxy's page, say): keep the status line
  }
  return new ApiError(message, { status: response.status, code, param });
}

function errorOfText(status, statusText, text) {
  try {
    const { error } = JSON.parse(text);
    return new ApiError(error.message, { status, code: error.code ?? null, param: error.param ?? null });
  } catch {
    return new ApiError(`${status} ${statusText}`, { status });
  }
}

function titleCase(id) {
  return id.charAt(0).toUpperCase() + id.slice(1);
}

/** Both shapes of GET /v1/audio/voices, as one list for the page:
 * - `{"voices": ["tara", ...], "default": "tara"}`;
 * - Open WebUI's `{"voices": [{"id", "name", "model"?, "language"?, "alias_of"?}, ...]}`.
 * Aliases (OpenAI's names for our voices) are not separate voices: they are left out.
 * `group` is the model or language, when the listing says; the page groups only when there
 * are several. Custom (cloned) voices (`custom: true`) are picked by their id alone (unique,
 * and it selects the cloning model) and grouped as "Your voices". */
export function normalizeVoices(listing) {
  const voices = [];
  for (const entry of listing.voices ?? []) {
    if (typeof entry === "string") {
      voices.push({ key: entry, id: entry, name: titleCase(entry), model: null, group: null });
    } else if (entry && typeof entry.id === "string" && entry.custom) {
      const name = entry.name ?? entry.id;
      voices.push({ key: entry.id, id: entry.id, name, model: entry.model ?? null, group: CUSTOM_GROUP, custom: true });
    } else if (entry && typeof entry.id === "string" && !entry.alias_of) {
      const model = entry.model ?? null;
      const group = entry.language ?? model;
      const key = model ? `${model}/${entry.id}` : entry.id;
      voices.push({ key, id: entry.id, name: entry.name ?? titleCase(entry.id), model, group });
    }
  }
  const groups = [...new Set(voices.map((v) => v.group))].filter((g) => g !== null);
  const fallback = voices.length ? voices[0].key : null;
  // A custom voice is never the page's first choice: it needs a recording someone made.
  const builtIn = voices.find((v) => !v.custom)?.key ?? fallback;
  const named = voices.find((v) => v.id === listing.default)?.key ?? builtIn;
  return { voices, groups: groups.length > 1 ? groups : [], default: named };
}
