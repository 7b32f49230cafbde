// Small DOM helpers shared by the views.

export const $ = (id) => document.getElementById(id);

/** An element with attributes/properties and children (strings become text, never HTML). */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key in el && key !== "list") el[key] = value;
    else el.setAttribute(key, value);
  }
  el.append(...children.filter((c) => c !== null && c !== undefined));
  return el;
}

export function showError(el, message) {
  el.textContent = message;
  el.hidden = !message;
}

/** Offer `blob` as a file download named `name`. */
export function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Fill a <select> with voices, in <optgroup>s when the listing has several groups. */
export function fillVoices(select, listing) {
  const previous = select.value;
  select.replaceChildren();
  const option = (voice) => h("option", { value: voice.key }, voice.name);
  if (listing.groups.length) {
    for (const group of listing.groups) {
      const members = listing.voices.filter((v) => v.group === group);
      select.append(h("optgroup", { label: group }, ...members.map(option)));
    }
    const loose = listing.voices.filter((v) => v.group === null);
    select.append(...loose.map(option));
  } else {
    select.append(...listing.voices.map(option));
  }
  const keys = listing.voices.map((v) => v.key);
  select.value = keys.includes(previous) ? previous : listing.default;
}

export const seconds = (s) => `${s.toFixed(2)} s`;
