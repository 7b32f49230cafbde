// Read-along: the text being spoken, the word playing highlighted. The words' times come from the
// server's `speech.audio.heard` events (one per utterance, after its audio: docs/timings.md), each
// word with its characters in the text as written; where playback is comes from the player's count
// of samples played. The view only draws; `wordAt` (pure) says which word plays at a time.
import { h } from "./dom.js";

/** The index of the word playing at `t` seconds: the last one started by then (a pause keeps the
 * word before it lit), or -1 before the first. `words` are in order. */
export function wordAt(words, t) {
  let low = 0;
  let high = words.length - 1;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (words[middle].start <= t) {
      found = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return found;
}

export class ReadAlong {
  constructor(container) {
    this.container = container;
    this.text = "";
    this.words = [];
    this.spans = [];
    this.current = -1;
  }

  /** A new speech of `text`: nothing timed yet. */
  reset(text) {
    this.text = text;
    this.words = [];
    this.current = -1;
    this.render();
    this.container.hidden = false;
  }

  hide() {
    this.container.hidden = true;
  }

  /** One utterance's words (`speech.audio.heard`'s `words`). */
  add(words) {
    this.words.push(...words);
    this.render();
  }

  /** Light the word playing at `seconds` into the audio. */
  show(seconds) {
    const index = wordAt(this.words, seconds);
    if (index === this.current) return;
    this.spans[this.current]?.classList.remove("speaking");
    this.spans[index]?.classList.add("speaking");
    this.spans[index]?.setAttribute("aria-current", "true");
    this.spans[this.current]?.removeAttribute("aria-current");
    this.current = index;
  }

  /** The text as written, each timed word a span (words not timed yet stay plain text). */
  render() {
    const parts = [];
    let at = 0;
    this.spans = this.words.map((word) => {
      if (word.char_start > at) parts.push(this.text.slice(at, word.char_start));
      const span = h("span", { className: "word" }, this.text.slice(word.char_start, word.char_end));
      span.dataset.start = String(word.start);
      parts.push(span);
      at = Math.max(at, word.char_end);
      return span;
    });
    parts.push(this.text.slice(at));
    this.container.replaceChildren(...parts);
    const lit = this.current;
    this.current = -1;
    if (lit >= 0) this.show(this.words[lit].start);
  }
}
