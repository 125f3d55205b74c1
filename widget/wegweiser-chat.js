/**
 * <wegweiser-chat>: the Wegweiser Jena assistant as one framework-free custom element.
 *
 * Embed it as a portal editor would:
 *
 *   <script type="module" src="https://wegweiser.example/widget/wegweiser-chat.js"></script>
 *   <wegweiser-chat api-url="https://wegweiser.example"></wegweiser-chat>
 *
 * Attributes (the element's API):
 * - `api-url`: where the Wegweiser API runs. Default: the origin this module was loaded from.
 * - `lang`: the answer language (ISO 639-1). Without it the interface follows the page
 *   (`closest('[lang]')`, then `<html lang>`, then "de") and answers come in the language the question
 *   is asked in. A language without a message catalog gets a German interface, but is still sent as the
 *   answer language.
 * - `share-param`: the name of a page-address parameter (the demo page: `frage`). With it, answers get a Share
 *   button that links to this page with `?frage=<question>&lang=<lang>`, and such a link asks the question on load.
 *
 * Theming: CSS custom properties on the element (`--wegweiser-accent`, `--wegweiser-accent-ink`,
 * `--wegweiser-ink`, `--wegweiser-muted`, `--wegweiser-bg`, `--wegweiser-surface`, `--wegweiser-border`,
 * `--wegweiser-focus`, `--wegweiser-font`, `--wegweiser-radius`, `--wegweiser-log-max-height`) and
 * `::part(container | log | message | question | answer | error | citation | quote | office-card | input |
 * send-button | language-select | simple-toggle | starters | status | counter | limit-note | new-conversation |
 * retry-button | more-toggle | action | handover | feedback | counter-card)`.
 *
 * Each answer can be copied, shared, printed alone, shown at a counter in German ("Für die Behörde", a modal
 * <dialog>), read aloud (only when the browser has a voice for its language) and rated ("Hilfreich?", sent to
 * `POST /api/feedback`; a server without that endpoint gets a quiet "could not send"). Follow-up questions carry
 * the last two turns as `previous`; a server that refuses that field (422 naming it) is asked again without it.
 *
 * Events (named after the tag, bubbling and composed): `wegweiser-chat-answer` (detail: the API response),
 * `wegweiser-chat-error` (detail: `{status, question}`).
 *
 * Every visible string comes from the server's message catalogs (`/widget/messages/<lang>.json`, keys `ui.*`);
 * API content is rendered with DOM nodes and `textContent` only. No cookies, no web storage, no third-party
 * requests.
 */

const DEFAULT_LANG = "de";
const RTL_LANGUAGES = new Set(["ar", "fa", "he", "ur", "ps", "ckb", "dv", "yi"]);
const STARTER_KEYS = ["ui.starter.1", "ui.starter.2", "ui.starter.3", "ui.starter.4"];
const CONTACT_KINDS = ["phone", "email", "website", "address", "hours"];
const MARKER = /\[(\d{1,3})\]/g;
const MAX_QUESTION = 1000;
const WARN_QUESTION = 900;        // from here the counter warns how many characters are left
const NARROW_PX = 576;            // below this widget width (phones) long answers start collapsed
const MAX_TURNS = 2;              // follow-up context: the last two questions with the units they cited
const MAX_UNIT_IDS = 10;
const FEEDBACK_REASONS = ["wrong", "outdated_contact", "not_understandable", "not_my_question"];
const HANDOVER_ROLES = new Set(["lead", "responsible", "office"]);
const AUTHORITY_ROLES = new Set(["responsible", "office"]);
// Words that ask for a person, per language (lower case, matched as substrings of the lower-cased question).
const PERSON_WORDS = [
  "mensch", "person", "sprechen", "mitarbeiter", "berater", "anrufen",
  "human", "someone", "talk to", "speak to",
  "людин", "живою", "поговорити", "человек", "поговорить",
  "شخص", "إنسان", "انسان", "موظف", "التحدث", "صحبت", "آدم",
  "kişi", "insan", "konuşmak", "görüşmek",
  "personne", "humain", "parler",
];
const ISOLATES = /[\u2066-\u2069]/g;
const MODULE_ORIGIN = new URL(import.meta.url).origin;

/** A failed HTTP response, with its status (429 tells the asker to wait). */
class HttpError extends Error {
  constructor(status) {
    super(`HTTP ${status}`);
    this.name = "HttpError";
    this.status = status;
  }
}

// No cookies travel (the API needs none) and the embedding page's address is not sent along.
const FETCH_DEFAULTS = { credentials: "omit", referrerPolicy: "no-referrer", mode: "cors" };

async function fetchJSON(url, init = {}) {
  const response = await fetch(url, { ...FETCH_DEFAULTS, ...init });
  if (!response.ok) throw new HttpError(response.status);
  return response.json();
}

// Catalogs and the language list are shared by every widget on the page; failures are not cached.
const jsonCache = new Map();
function cachedJSON(url) {
  if (!jsonCache.has(url)) {
    jsonCache.set(url, fetchJSON(url).catch((error) => {
      jsonCache.delete(url);
      throw error;
    }));
  }
  return jsonCache.get(url);
}

/** "de-DE" → "de"; anything that is not a language tag → null. */
function primaryLanguage(value) {
  const match = /^\s*([a-zA-Z]{2,3})(?:[-_][a-zA-Z0-9]{1,8})*\s*$/.exec(value || "");
  return match ? match[1].toLowerCase() : null;
}

function directionOf(code) {
  return RTL_LANGUAGES.has(code) ? "rtl" : "ltr";
}

/** A language's own name from the browser (for a language the server lists no catalog for). */
function ownName(code) {
  try {
    return new Intl.DisplayNames([code], { type: "language" }).of(code) || code;
  } catch {
    return code;
  }
}

/** An http(s) URL, or null: nothing else becomes a link. */
function safeWebUrl(value, base) {
  try {
    const url = new URL(value, base);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

function telHref(value) {
  const digits = value.replace(/[^\d]/g, "");
  if (digits.length < 3) return null;
  return `tel:${value.trim().startsWith("+") ? "+" : ""}${digits}`;
}

function mailHref(value) {
  const address = value.trim();
  return /^[^\s@<>()"',;:]+@[^\s@<>()"',;:]+\.[a-zA-Z]{2,}$/.test(address) ? `mailto:${address}` : null;
}

function websiteHref(value) {
  const text = value.trim();
  return safeWebUrl(/^https?:\/\//i.test(text) ? text : `https://${text}`);
}

/** `document.createElement` with properties, attributes and children in one call. */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") el.textContent = value;
    else if (key === "class") el.className = value;
    else if (key === "part") el.setAttribute("part", value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key in el && !key.includes("-")) el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) el.append(child);
  }
  return el;
}

const STYLES = `
:host {
  --_accent: var(--wegweiser-accent, #00587a);
  --_accent-ink: var(--wegweiser-accent-ink, #ffffff);
  --_ink: var(--wegweiser-ink, #1b1f24);
  --_muted: var(--wegweiser-muted, #4a5360);
  --_bg: var(--wegweiser-bg, #ffffff);
  --_surface: var(--wegweiser-surface, #f4f6f8);
  --_question-bg: var(--wegweiser-question-bg, #e3eef3);
  --_border: var(--wegweiser-border, #c9d0d8);
  --_focus: var(--wegweiser-focus, #b35900);
  --_error-ink: var(--wegweiser-error-ink, #8a1c1c);
  --_error-bg: var(--wegweiser-error-bg, #fdeeee);
  --_radius: var(--wegweiser-radius, 0.75rem);
  display: block;
  box-sizing: border-box;
  max-width: 100%;
  min-width: 0;
  color: var(--_ink);
  font-family: var(--wegweiser-font, system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif);
  font-size: var(--wegweiser-font-size, 1rem);
  line-height: 1.5;
}
:host([hidden]) { display: none; }
*, *::before, *::after { box-sizing: inherit; }
[hidden] { display: none !important; }
.container {
  display: flex;
  flex-direction: column;
  gap: 0.75rem;
  padding: 1rem;
  background: var(--_bg);
  border: 1px solid var(--_border);
  border-radius: var(--_radius);
  text-align: start;
  overflow-wrap: anywhere;
}
.header { display: flex; flex-direction: column; gap: 0.25rem; }
.heading { margin: 0; font-size: 1.25rem; line-height: 1.3; color: var(--_accent); }
.subtitle, .privacy { margin: 0; color: var(--_muted); }
.privacy { font-size: 0.875rem; }
.toolbar { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem 1rem; }
.field { display: flex; flex-wrap: wrap; align-items: center; gap: 0.25rem 0.5rem; min-width: 0; max-width: 100%; }
select, textarea, button { font: inherit; color: inherit; }
select {
  max-width: 100%;
  min-height: 2.5rem;
  padding-block: 0.25rem;
  padding-inline: 0.5rem;
  background: var(--_bg);
  border: 1px solid var(--_muted);
  border-radius: calc(var(--_radius) / 2);
}
button { cursor: pointer; }
.toggle {
  display: inline-flex;
  align-items: center;
  gap: 0.5rem;
  min-height: 2.5rem;
  padding-block: 0.25rem;
  padding-inline: 0.5rem 0.75rem;
  background: var(--_bg);
  border: 1px solid var(--_muted);
  border-radius: 999px;
}
.toggle .switch {
  flex: none;
  position: relative;
  inline-size: 2.25rem;
  block-size: 1.25rem;
  border-radius: 999px;
  border: 2px solid var(--_muted);
  background: var(--_bg);
}
.toggle .switch::after {
  content: "";
  position: absolute;
  inset-block-start: 0.125rem;
  inset-inline-start: 0.125rem;
  inline-size: 0.75rem;
  block-size: 0.75rem;
  border-radius: 50%;
  background: var(--_muted);
  transition: inset-inline-start 0.15s;
}
.toggle[aria-pressed="true"] { border-color: var(--_accent); }
.toggle[aria-pressed="true"] .switch { background: var(--_accent); border-color: var(--_accent); }
.toggle[aria-pressed="true"] .switch::after { inset-inline-start: 1.125rem; background: var(--_accent-ink); }
.log {
  display: flex;
  flex-direction: column;
  gap: 0.75rem;
  max-height: var(--wegweiser-log-max-height, none);
  overflow-y: auto;
}
.log:empty { display: none; }
.message {
  max-width: 100%;
  padding: 0.75rem;
  border-radius: var(--_radius);
  background: var(--_surface);
  border: 1px solid var(--_border);
}
.message > * + * { margin-block-start: 0.5rem; }
.message.question {
  align-self: flex-end;
  max-width: min(100%, 36rem);
  background: var(--_question-bg);
  border-color: transparent;
}
.message.error { background: var(--_error-bg); color: var(--_error-ink); border-color: currentColor; }
.who { margin: 0; font-size: 0.8125rem; font-weight: 600; color: var(--_muted); }
.error .who { color: inherit; }
.text, .answer-text { margin: 0; white-space: pre-line; }
.badge {
  display: inline-block;
  margin: 0;
  padding-block: 0.125rem;
  padding-inline: 0.5rem;
  border-radius: 999px;
  border: 1px solid var(--_muted);
  font-size: 0.8125rem;
  color: var(--_muted);
}
.notice { margin: 0; font-size: 0.8125rem; color: var(--_muted); }
.marker {
  /* WCAG 2.2 (2.5.8): at least 24 × 24 CSS pixels to tap. */
  display: inline-block;
  min-inline-size: 1.5rem;
  min-block-size: 1.5rem;
  margin: 0;
  padding-block: 0;
  padding-inline: 0.125rem;
  line-height: 1.5rem;
  text-align: center;
  border: 0;
  background: none;
  color: var(--_accent);
  font-size: 0.875em;
  font-weight: 600;
  text-decoration: underline;
  text-underline-offset: 0.15em;
  vertical-align: baseline;
}
.linklike, .action {
  min-block-size: 2.75rem;
  padding-block: 0.25rem;
  padding-inline: 0.5rem;
  border: 1px solid var(--_accent);
  border-radius: calc(var(--_radius) / 2);
  background: var(--_bg);
  color: var(--_accent);
  font-size: 0.875rem;
}
h3 { margin-block: 0 0.375rem; margin-inline: 0; font-size: 0.9375rem; line-height: 1.3; }
ul, ol { margin: 0; padding: 0; list-style: none; }
.offices ul { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 15rem), 1fr)); gap: 0.5rem; }
.office-card {
  padding-block: 0.5rem;
  padding-inline: 0.75rem;
  background: var(--_bg);
  border: 1px solid var(--_border);
  border-inline-start: 4px solid var(--_accent);
  border-radius: calc(var(--_radius) / 2);
}
.office-card.compact { border-inline-start-color: var(--_border); }
.office-name { margin: 0; font-weight: 600; }
.office-name-translated { margin: 0; color: var(--_muted); font-size: 0.875rem; }
.contact { margin-block: 0.375rem 0; margin-inline: 0; font-size: 0.9375rem; }
.contact dt { font-size: 0.8125rem; font-weight: 600; color: var(--_muted); }
.contact dd { margin-block: 0 0.375rem; margin-inline: 0; min-width: 0; }
.as-of, .contact-note { display: block; font-size: 0.8125rem; color: var(--_muted); }
.as-of a, .contact dd > a { display: inline-block; min-block-size: 1.5rem; padding-block: 0.125rem; }
.citations ol { display: flex; flex-direction: column; gap: 0.375rem; }
details {
  background: var(--_bg);
  border: 1px solid var(--_border);
  border-radius: calc(var(--_radius) / 2);
}
summary {
  display: flex;
  align-items: baseline;
  gap: 0.5rem;
  padding-block: 0.375rem;
  padding-inline: 0.5rem;
  cursor: pointer;
  list-style: none;
  border-radius: calc(var(--_radius) / 2);
}
summary::-webkit-details-marker { display: none; }
summary::before {
  content: "";
  flex: none;
  inline-size: 0.5rem;
  block-size: 0.5rem;
  /* Physical borders on purpose: the rotation below turns this corner into ">", "<" or "v". */
  border-bottom: 2px solid currentColor;
  border-right: 2px solid currentColor;
  transform: translateY(-0.15em) rotate(-45deg);
}
summary:dir(rtl)::before { transform: translateY(-0.15em) rotate(135deg); }
details[open] > summary::before { transform: translateY(-0.3em) rotate(45deg); }
summary .n { flex: none; font-weight: 700; color: var(--_accent); }
summary .summary-text { min-width: 0; }
summary .section { display: block; font-size: 0.8125rem; color: var(--_muted); }
summary .title { display: block; font-weight: 600; }
.citation-body { padding-block: 0 0.5rem; padding-inline: 0.75rem; border-block-start: 1px solid var(--_border); }
.citation-body > * { margin-block: 0.5rem 0; }
.quoted-text { border-inline-start: 0.25rem solid #b35900; padding-inline-start: 0.5rem; margin-inline: 0; }
.label { font-size: 0.8125rem; font-weight: 600; color: var(--_muted); }
blockquote {
  margin-inline: 0;
  padding-inline-start: 0.75rem;
  border-inline-start: 3px solid var(--_border);
  white-space: pre-line;
}
.meta { font-size: 0.8125rem; color: var(--_muted); }
a { color: var(--_accent); text-underline-offset: 0.15em; }
.status { margin: 0; min-height: 1.5em; color: var(--_muted); font-size: 0.9375rem; }
.status:not(:empty)::before {
  content: "";
  display: inline-block;
  inline-size: 0.75rem;
  block-size: 0.75rem;
  margin-inline-end: 0.5rem;
  border: 2px solid var(--_accent);
  border-inline-end-color: transparent;
  border-radius: 50%;
  animation: spin 0.8s linear infinite;
}
@keyframes spin { to { transform: rotate(360deg); } }
@media (prefers-reduced-motion: reduce) {
  .status:not(:empty)::before { animation: none; }
  .toggle .switch::after { transition: none; }
}
.starters { display: flex; flex-direction: column; gap: 0.375rem; }
.starters p { margin: 0; font-weight: 600; font-size: 0.9375rem; }
.starters ul { display: flex; flex-wrap: wrap; gap: 0.375rem; }
.starter {
  max-width: 100%;
  padding-block: 0.375rem;
  padding-inline: 0.75rem;
  border: 1px solid var(--_accent);
  border-radius: 999px;
  background: var(--_bg);
  color: var(--_accent);
  text-align: start;
}
.starter:hover, .linklike:hover, .action:hover { background: var(--_question-bg); }
.message.cancelled { opacity: 0.85; }
.badge.cancelled { border-style: dashed; }
.message:focus-visible { outline: 3px solid var(--_focus); outline-offset: 2px; }
.retry { margin-block-start: 0.5rem; }
.actions, .feedback-buttons, .reasons { display: flex; flex-wrap: wrap; gap: 0.375rem; }
.feedback { display: flex; flex-direction: column; gap: 0.375rem; }
.feedback p, .action-note { margin: 0; font-size: 0.875rem; color: var(--_muted); }
.more-toggle { align-self: flex-start; }
.more-toggle[aria-expanded="true"] { background: var(--_question-bg); }
.handover {
  padding: 0.75rem;
  background: var(--_bg);
  border: 2px solid var(--_accent);
  border-radius: calc(var(--_radius) / 2);
}
.handover > * + * { margin-block-start: 0.5rem; }
.handover p { margin-block-end: 0; }
.handover textarea { inline-size: 100%; min-block-size: 8rem; font-size: 0.9375rem; }
.handover .mediation { font-weight: 600; }
.form-row { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: 0.25rem 1rem; }
.counter { margin: 0; font-size: 0.8125rem; color: var(--_muted); font-variant-numeric: tabular-nums; }
.counter.near { color: var(--_ink); font-weight: 600; }
.counter.over, .limit-note { color: var(--_error-ink); font-weight: 600; }
.limit-note { margin: 0; font-size: 0.875rem; }
.limit-note:empty { display: none; }
textarea[aria-invalid="true"] { border: 2px solid var(--_error-ink); }
.new-conversation { margin-inline-start: auto; }
dialog.counter-card {
  inline-size: 100vw;
  max-inline-size: 100vw;
  block-size: 100vh;
  max-block-size: 100vh;
  margin: 0;
  padding: 1.25rem clamp(1rem, 4vw, 3rem);
  border: 0;
  background: #ffffff;
  color: #000000;
  font-size: clamp(1.25rem, 2.5vw, 1.625rem);
  line-height: 1.45;
  overflow-y: auto;
}
dialog.counter-card::backdrop { background: #000000; }
.counter-card h2 { margin-block: 0 0.75rem; font-size: 1.6em; line-height: 1.2; }
.counter-card h3 { margin-block: 1rem 0.25rem; font-size: 1em; text-transform: none; color: #000000; }
.counter-card p, .counter-card dl, .counter-card dd { margin: 0; }
.counter-card .card-answer { white-space: pre-line; }
.counter-card .card-office { font-weight: 700; font-size: 1.15em; }
.counter-card dt { font-weight: 700; margin-block-start: 0.5rem; }
.counter-card a { color: #00006b; }
.counter-card .card-head { display: flex; flex-wrap: wrap; justify-content: space-between; align-items: flex-start; gap: 1rem; }
.counter-card .close {
  flex: none;
  min-block-size: 3rem;
  padding-inline: 1.25rem;
  border: 2px solid #000000;
  border-radius: 0.5rem;
  background: #ffffff;
  color: #000000;
  font-size: 1rem;
  font-weight: 700;
}
@media print {
  .container > :not(.log), .log > :not(.printing), .printing .actions, .printing .feedback,
  .printing .more-toggle, .printing button[data-action=toggle-german], .printing .handover button,
  .printing .as-of a::after, dialog { display: none !important; }
  .printing .more { display: block !important; }
  .container { border: 0; padding: 0; }
  .log { max-height: none; overflow: visible; }
  .message { break-inside: auto; border: 0; background: none; }
}
.form { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: stretch; }
textarea {
  flex: 1 1 14rem;
  min-width: 0;
  min-height: 3rem;
  padding-block: 0.5rem;
  padding-inline: 0.625rem;
  border: 1px solid var(--_muted);
  border-radius: calc(var(--_radius) / 2);
  background: var(--_bg);
  resize: vertical;
}
textarea::placeholder { color: var(--_muted); opacity: 1; }
.send {
  flex: 0 0 auto;
  min-height: 2.75rem;
  padding-block: 0.5rem;
  padding-inline: 1.25rem;
  border: 0;
  border-radius: calc(var(--_radius) / 2);
  background: var(--_accent);
  color: var(--_accent-ink);
  font-weight: 600;
}
.send:hover { filter: brightness(1.1); }
:focus { outline: none; }
:focus-visible { outline: 3px solid var(--_focus); outline-offset: 2px; }
summary:focus-visible, .marker:focus-visible { outline-offset: 0; }
.visually-hidden {
  position: absolute !important;
  inline-size: 1px;
  block-size: 1px;
  overflow: hidden;
  clip-path: inset(50%);
  white-space: nowrap;
}
@media (max-width: 30rem) {
  .container { padding: 0.75rem; }
  .message { padding: 0.625rem; }
  .office-card { padding: 0.5rem; }
  .citation-body { padding-inline: 0.5rem; }
}
@media (forced-colors: active) {
  .toggle[aria-pressed="true"] .switch { background: Highlight; }
  .toggle .switch { border: 1px solid ButtonText; }
}
`;

let sharedSheet = null;
function styleSheet() {
  if (!sharedSheet) {
    sharedSheet = new CSSStyleSheet();
    sharedSheet.replaceSync(STYLES);
  }
  return sharedSheet;
}

let instances = 0;

export class WegweiserChatElement extends HTMLElement {
  static observedAttributes = ["api-url", "lang", "share-param"];

  /** Register the element (once) under `tag`. */
  static define(tag = "wegweiser-chat", registry = customElements) {
    if (!registry.get(tag)) registry.define(tag, this);
    return this;
  }

  #ids = `ww${++instances}`;
  #messageCount = 0;
  #listeners = null;        // AbortController for the element's own event listeners
  #request = null;          // AbortController of the question in flight
  #languageLoad = 0;        // guards against a slow catalog overwriting a newer choice
  #languages = [];          // [{code, label, dir}] from /widget/languages.json
  #languagesFor = null;     // the API base the list was loaded from
  #uiLang = DEFAULT_LANG;   // language of the interface (a catalog exists for it)
  #messages = null;         // the loaded catalog (key → text)
  #ready = null;            // settles once the first catalog is in
  #simple = false;
  #autoLang = null;         // answer language picked up from the last answer when no `lang` is set
  #pending = null;          // {controller, message} of the question in flight (marked "cancelled" if replaced)
  #turns = [];              // follow-up context: [{question, unit_ids}], oldest first, at most MAX_TURNS
  #previousRefused = null;  // the API base that refused `previous` (an older server): not sent there again
  #sharedAsked = false;     // the question in the page address (share-param) is asked once
  #germanMessages = null;   // the German catalog, for the counter card and the prepared message
  #els = {};

  constructor() {
    super();
    const root = this.attachShadow({ mode: "open" });
    if ("adoptedStyleSheets" in root && typeof CSSStyleSheet.prototype.replaceSync === "function") {
      root.adoptedStyleSheets = [styleSheet()];
    } else {
      // Very old browsers only: a <style> element (pages with a strict CSP need constructable sheets).
      root.append(h("style", { text: STYLES }));
    }
    root.append(this.#build());
  }

  /** The API base URL (`api-url`), default: where this module was loaded from. */
  get apiUrl() {
    const value = (this.getAttribute("api-url") || "").trim();
    return safeWebUrl(value || MODULE_ORIGIN, document.baseURI)?.replace(/\/+$/, "") || MODULE_ORIGIN;
  }

  set apiUrl(value) {
    this.setAttribute("api-url", value);
  }

  /** Whether answers come in Einfache Sprache (plain language). */
  get simple() {
    return this.#simple;
  }

  set simple(value) {
    this.#simple = Boolean(value);
    this.#els.simple?.setAttribute("aria-pressed", String(this.#simple));
  }

  connectedCallback() {
    this.#listeners = new AbortController();
    const signal = this.#listeners.signal;
    const { form, input, select } = this.#els;
    form.addEventListener("submit", (event) => this.#onSubmit(event), { signal });
    input.addEventListener("keydown", (event) => this.#onKeydown(event), { signal });
    select.addEventListener("change", () => this.#onLanguagePicked(), { signal });
    input.addEventListener("input", () => this.#updateCounter(), { signal });
    this.shadowRoot.addEventListener("click", (event) => this.#onClick(event), { signal });
    this.#ready = this.#applyLanguage();
    this.#askSharedQuestion();
  }

  disconnectedCallback() {
    this.#listeners?.abort();
    this.#listeners = null;
    this.#request?.abort();
    this.#request = null;
    this.#pending = null;
    this.#setStatus("");
    this.#stopSpeaking();
    this.#els.dialog?.close();
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (oldValue === newValue || !this.isConnected) return;
    if (name === "api-url") this.#languagesFor = null;
    if (name === "lang") this.#autoLang = null;
    this.#ready = this.#applyLanguage();
  }

  /** Ask a question (as if typed); resolves when the answer (or an error) is shown. */
  ask(question) {
    return this.#ask(question);
  }

  /** Start over: clear the conversation and its follow-up context. */
  clear() {
    this.#startOver();
  }

  /** The name of the page-address parameter that carries a shared question (`share-param`), or null. */
  get shareParam() {
    const value = (this.getAttribute("share-param") || "").trim();
    return /^[A-Za-z][\w-]{0,31}$/.test(value) ? value : null;
  }

  // -- structure -------------------------------------------------------------------------------------------

  #build() {
    const id = this.#ids;
    const els = this.#els;
    els.title = h("h2", { class: "heading", id: `${id}-title` });
    els.subtitle = h("p", { class: "subtitle" });
    els.languageLabel = h("label", { for: `${id}-lang` });
    els.select = h("select", { id: `${id}-lang`, part: "language-select" });
    els.simpleLabel = h("span", { class: "toggle-label" });
    els.simple = h("button", {
      type: "button", class: "toggle", part: "simple-toggle", "aria-pressed": "false",
      dataset: { action: "simple" },
    }, h("span", { class: "switch", "aria-hidden": "true" }), els.simpleLabel);
    // The log is not read out as a whole: a short summary goes to the announcer below.
    els.log = h("div", {
      class: "log", part: "log", role: "log", "aria-live": "off", "aria-labelledby": `${id}-title`,
    });
    els.status = h("p", { class: "status", part: "status", role: "status" });
    els.announcer = h("p", { class: "visually-hidden", "aria-live": "polite", "aria-atomic": "true" });
    els.startersLabel = h("p", { id: `${id}-starters` });
    els.starterList = h("ul");
    els.starters = h("div", {
      class: "starters", part: "starters", role: "group", "aria-labelledby": `${id}-starters`,
    }, els.startersLabel, els.starterList);
    els.inputLabel = h("label", { for: `${id}-input`, class: "visually-hidden" });
    // No maxLength: a longer pasted question stays whole and the counter says what is too much.
    els.input = h("textarea", {
      id: `${id}-input`, part: "input", rows: 2, autocomplete: "off", enterKeyHint: "send", dir: "auto",
      "aria-describedby": `${id}-counter ${id}-limit`,
    });
    els.send = h("button", { type: "submit", class: "send", part: "send-button" });
    els.counter = h("p", { class: "counter", part: "counter", id: `${id}-counter` });
    els.limitNote = h("p", { class: "limit-note", part: "limit-note", id: `${id}-limit`, "aria-live": "polite" });
    els.newConversation = h("button", {
      type: "button", class: "linklike new-conversation", part: "new-conversation", hidden: true,
      dataset: { action: "new-conversation" },
    });
    els.form = h("form", { class: "form", part: "form", noValidate: true }, els.inputLabel, els.input, els.send);
    els.formRow = h("div", { class: "form-row" }, els.counter, els.newConversation);
    els.privacy = h("p", { class: "privacy" });
    els.container = h("section", {
      class: "container", part: "container", "aria-labelledby": `${id}-title`,
    },
    h("div", { class: "header" }, els.title, els.subtitle),
    h("div", { class: "toolbar" },
      h("div", { class: "field" }, els.languageLabel, els.select),
      els.simple),
    els.log, els.status, els.announcer, els.starters, els.form, els.limitNote, els.formRow, els.privacy);
    return els.container;
  }

  // -- language --------------------------------------------------------------------------------------------

  /** The language set on the element itself, if any. */
  #explicitLang() {
    return this.hasAttribute("lang") ? primaryLanguage(this.getAttribute("lang")) : null;
  }

  /** The language the page around the element is in. */
  #inheritedLang() {
    const holder = this.parentElement?.closest("[lang]") || this.getRootNode()?.host?.closest?.("[lang]");
    return primaryLanguage(holder?.getAttribute("lang")) ||
      primaryLanguage(document.documentElement.getAttribute("lang")) || DEFAULT_LANG;
  }

  /** The answer language sent with a question: the chosen one, else null (the API detects it). */
  #answerLang() {
    return this.#explicitLang();
  }

  async #loadLanguages() {
    const base = this.apiUrl;
    if (this.#languagesFor === base) return;
    try {
      const list = await cachedJSON(`${base}/widget/languages.json`);
      this.#languages = Array.isArray(list) ? list.filter((l) => l && typeof l.code === "string") : [];
    } catch {
      this.#languages = [];
    }
    this.#languagesFor = base;
  }

  #hasCatalog(code) {
    return this.#languages.some((l) => l.code === code);
  }

  async #applyLanguage() {
    const ticket = ++this.#languageLoad;
    await this.#loadLanguages();
    const wanted = this.#explicitLang() || this.#autoLang || this.#inheritedLang();
    const code = this.#hasCatalog(wanted) ? wanted : DEFAULT_LANG;
    const { lang, messages } = await this.#loadCatalog(code);
    if (ticket !== this.#languageLoad) return;
    this.#uiLang = lang;
    this.#messages = messages;
    this.#renderChrome();
  }

  /** The catalog for `code`; if it cannot be loaded, German, explicitly (never a silent English). */
  async #loadCatalog(code) {
    const base = this.apiUrl;
    for (const lang of code === DEFAULT_LANG ? [DEFAULT_LANG] : [code, DEFAULT_LANG]) {
      try {
        const messages = await cachedJSON(`${base}/widget/messages/${encodeURIComponent(lang)}.json`);
        if (messages && typeof messages === "object") return { lang, messages };
      } catch {
        // try the next one
      }
    }
    return { lang: DEFAULT_LANG, messages: null };
  }

  /** A catalog string with `{name}` placeholders filled; the key itself if even German is unavailable. */
  #t(key, vars = {}) {
    const text = this.#messages?.[key];
    if (typeof text !== "string") return key;
    return text.replace(/\{(\w+)\}/g, (match, name) => (name in vars ? String(vars[name]) : match));
  }

  #uiDir() {
    const dir = this.#messages?.["@dir"];
    return dir === "rtl" || dir === "ltr" ? dir : directionOf(this.#uiLang);
  }

  #renderChrome() {
    const els = this.#els;
    els.container.lang = this.#uiLang;
    els.container.dir = this.#uiDir();
    els.title.textContent = this.#t("ui.title");
    els.subtitle.textContent = this.#t("ui.subtitle");
    els.languageLabel.textContent = this.#t("ui.language");
    els.simpleLabel.textContent = this.#t("ui.simple");
    els.inputLabel.textContent = this.#t("ui.placeholder");
    els.input.placeholder = this.#t("ui.placeholder");
    els.send.textContent = this.#t("ui.send");
    els.startersLabel.textContent = this.#t("ui.starters");
    els.starterList.replaceChildren(...STARTER_KEYS.map((key) => h("li", {},
      h("button", { type: "button", class: "starter", dataset: { action: "starter" }, text: this.#t(key) }))));
    els.privacy.textContent = this.#t("ui.privacy");
    els.newConversation.textContent = this.#t("ui.new_conversation");
    this.#updateCounter();
    for (const el of els.log.querySelectorAll("[data-i18n]")) {
      el.textContent = this.#t(el.dataset.i18n, el.dataset);
      el.lang = this.#uiLang;
    }
    this.#renderLanguageOptions();
  }

  #renderLanguageOptions() {
    const select = this.#els.select;
    const explicit = this.#explicitLang();
    const options = this.#languages.map((l) => ({ code: l.code, label: l.label || ownName(l.code), dir: l.dir }));
    for (const code of [explicit, this.#uiLang]) {
      if (code && !options.some((o) => o.code === code)) {
        options.push({ code, label: ownName(code), dir: directionOf(code) });
      }
    }
    select.replaceChildren(...options.map((o) => h("option", {
      value: o.code, lang: o.code, dir: o.dir === "rtl" ? "rtl" : "ltr", text: o.label,
    })));
    select.value = explicit || this.#uiLang;
  }

  #onLanguagePicked() {
    const code = primaryLanguage(this.#els.select.value);
    // The attribute is the API: setting it makes the choice the answer language and reloads the labels.
    if (code) this.setAttribute("lang", code);
  }

  // -- asking ----------------------------------------------------------------------------------------------

  #onSubmit(event) {
    event.preventDefault();
    const question = this.#els.input.value;
    if (!question.trim()) {
      this.#els.input.focus();
      return;
    }
    if (this.#updateCounter({ submitting: true }) === "over") {
      // Never cut a question silently: it stays in the field, the note says how much is too much.
      this.#els.input.focus();
      return;
    }
    this.#els.input.value = "";
    this.#updateCounter();
    this.#ask(question);
  }

  /** Characters as the server counts them (code points of the trimmed text). */
  #questionLength() {
    return [...this.#els.input.value.trim()].length;
  }

  /** Refresh the x/1000 counter; returns "ok", "near" or "over". */
  #updateCounter({ submitting = false } = {}) {
    const { counter, limitNote, input } = this.#els;
    if (!counter) return "ok";
    const count = this.#questionLength();
    const state = count > MAX_QUESTION ? "over" : count >= WARN_QUESTION ? "near" : "ok";
    counter.textContent = this.#t("ui.counter", { count, max: MAX_QUESTION });
    counter.className = `counter ${state}`;
    input.setAttribute("aria-invalid", String(state === "over"));
    // The note speaks only when the state changes (or on a refused send), not at every keystroke.
    const note = state === "over" ? this.#t("ui.too_long", { count, max: MAX_QUESTION })
      : state === "near" ? this.#t("ui.near_limit", { max: MAX_QUESTION }) : "";
    if (state !== limitNote.dataset.state || (submitting && state === "over")) {
      limitNote.dataset.state = state;
      limitNote.textContent = "";
      if (submitting) requestAnimationFrame(() => { limitNote.textContent = note; });
      else limitNote.textContent = note;
    }
    return state;
  }

  #onKeydown(event) {
    // Enter sends, Shift+Enter makes a new line; never while an input method is composing.
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    this.#els.form.requestSubmit();
  }

  #onClick(event) {
    const target = event.target instanceof Element ? event.target.closest("[data-action]") : null;
    if (!target || !this.shadowRoot.contains(target)) return;
    const action = target.dataset.action;
    const message = target.closest("article");
    if (action === "simple") this.simple = !this.#simple;
    else if (action === "starter") this.#ask(target.textContent);
    else if (action === "cite") this.#openCitation(target.getAttribute("aria-controls"));
    else if (action === "toggle-german") this.#toggleGerman(target);
    else if (action === "retry") this.#retry(target);
    else if (action === "new-conversation") this.#startOver();
    else if (action === "more") this.#toggleMore(target);
    else if (action === "copy") this.#copyAnswer(message, target);
    else if (action === "share") this.#shareAnswer(message, target);
    else if (action === "print") this.#printAnswer(message);
    else if (action === "counter-card") this.#openCounterCard(message, target);
    else if (action === "close-card") this.#els.dialog?.close();
    else if (action === "copy-handover") this.#copyHandover(target);
    else if (action === "read-aloud") this.#readAloud(message, target);
    else if (action === "helpful") this.#sendFeedback(message, target, target.dataset.value === "yes", null);
    else if (action === "reason") this.#sendFeedback(message, target, false, target.dataset.value || null);
  }

  async #ask(rawQuestion) {
    const question = String(rawQuestion ?? "").trim();
    if (!question || [...question].length > MAX_QUESTION) return;
    // One question at a time: a new one cancels the one still loading, which is marked as cancelled.
    if (this.#pending) this.#markCancelled(this.#pending.message);
    this.#request?.abort();
    const controller = new AbortController();
    this.#request = controller;
    const pending = { controller, message: null };
    this.#pending = pending;
    await this.#ready;
    if (controller.signal.aborted) return;

    const questionMessage = this.#renderQuestion(question);
    pending.message = questionMessage;
    this.#els.starters.hidden = true;
    this.#els.newConversation.hidden = false;
    this.#setStatus(this.#t("ui.loading"));
    try {
      const data = await this.#postQuestion(question, controller.signal);
      if (controller.signal.aborted) return;
      await this.#followAnswerLanguage(data);
      if (controller.signal.aborted) return;
      const detected = primaryLanguage(data.detected_lang);
      if (detected) questionMessage.lang = detected;
      this.#pending = null;
      this.#remember(question, data);
      const answer = this.#renderAnswer(data, question);
      this.#announce(this.#summary(data));
      answer.focus({ preventScroll: false });
      this.dispatchEvent(new CustomEvent(`${this.localName}-answer`, { detail: data, bubbles: true, composed: true }));
    } catch (error) {
      if (controller.signal.aborted || error?.name === "AbortError") return;
      this.#pending = null;
      const status = error instanceof HttpError ? error.status : 0;
      const key = status === 429 ? "ui.rate_limited" : "ui.error";
      // The question is not lost: back into an empty field, and a button sends it again.
      if (!this.#els.input.value.trim()) {
        this.#els.input.value = question;
        this.#updateCounter();
      }
      this.#renderError(key, question);
      this.#announce(this.#t(key));
      this.dispatchEvent(new CustomEvent(`${this.localName}-error`, {
        detail: { status, question }, bubbles: true, composed: true,
      }));
    } finally {
      if (this.#request === controller) {
        this.#request = null;
        this.#setStatus("");
      }
    }
  }

  /** POST /api/ask, with the follow-up context where the server takes it (an older one refuses it: 422). */
  async #postQuestion(question, signal) {
    const base = this.apiUrl;
    const body = { question, lang: this.#answerLang(), simple: this.#simple };
    const withPrevious = this.#turns.length > 0 && this.#previousRefused !== base;
    const post = (payload) => fetch(`${base}/api/ask`, {
      ...FETCH_DEFAULTS, method: "POST", signal, body: JSON.stringify(payload),
      headers: { "Content-Type": "application/json", Accept: "application/json" },
    });
    let response = await post(withPrevious ? { ...body, previous: this.#turns } : body);
    if (withPrevious && response.status === 422) {
      const detail = await response.json().then((d) => JSON.stringify(d?.detail ?? ""), () => "");
      if (detail.includes("previous")) {
        this.#previousRefused = base;
        response = await post(body);
      } else {
        throw new HttpError(422);
      }
    }
    if (!response.ok) throw new HttpError(response.status);
    return response.json();
  }

  /** Keep the last turns for follow-up questions: the question and the answer's unit ids, contact cards
   * first (the server reads the first ids as what the answer was about), then the cited units. The general
   * fallback contact is left out: it is not what the answer was about. */
  #remember(question, data) {
    const cards = (Array.isArray(data?.contacts) ? data.contacts : []).filter((c) => c?.role !== "fallback");
    const cited = Array.isArray(data?.citations) ? data.citations : [];
    const unitIds = [...new Set([...cards, ...cited].map((item) => item?.id)
      .filter((id) => typeof id === "string" && id))].slice(0, MAX_UNIT_IDS);
    this.#turns = [...this.#turns, { question, unit_ids: unitIds }].slice(-MAX_TURNS);
  }

  #markCancelled(message) {
    if (!message || message.classList.contains("cancelled")) return;
    message.classList.add("cancelled");
    message.append(this.#uiText("p", "ui.cancelled", { class: "badge cancelled" }));
  }

  #retry(button) {
    const question = button.dataset.question;
    button.closest(".message")?.querySelector(".retry")?.remove();
    if (this.#els.input.value.trim() === question) {
      this.#els.input.value = "";
      this.#updateCounter();
    }
    this.#ask(question);
  }

  #startOver() {
    this.#request?.abort();
    this.#request = null;
    this.#pending = null;
    this.#turns = [];
    this.#stopSpeaking();
    this.#els.dialog?.close();
    this.#setStatus("");
    this.#els.log.replaceChildren();
    this.#els.starters.hidden = false;
    this.#els.newConversation.hidden = true;
    this.#announce(this.#t("ui.conversation_cleared"));
    this.#els.input.focus();
  }

  #announce(text) {
    const el = this.#els.announcer;
    if (!el) return;
    // Cleared first so that the same summary twice is still announced.
    el.textContent = "";
    requestAnimationFrame(() => { el.textContent = text; });
  }

  /** "Antwort erhalten: <first contact>, Telefon <phone>" in the interface language. */
  #summary(data) {
    const card = this.#contactsOf(data)[0];
    if (!card) return this.#t("ui.announce_none");
    const phone = card.contact?.phone?.find((item) => item && typeof item.value === "string")?.value;
    const name = String(card.name).replace(ISOLATES, "");
    return phone ? this.#t("ui.announce_phone", { name, phone }) : this.#t("ui.announce", { name });
  }

  /** The answer's contact cards, most relevant first (older servers only send `offices`). */
  #contactsOf(data) {
    const contacts = Array.isArray(data?.contacts) ? data.contacts.filter((o) => o && o.name) : null;
    if (contacts && contacts.length) return contacts;
    return Array.isArray(data?.offices) ? data.offices.filter((o) => o && o.name) : [];
  }

  /** Without a chosen language, the interface follows the language the asker writes in. */
  async #followAnswerLanguage(data) {
    const lang = primaryLanguage(data?.lang);
    // Only the language the question was written in: a question in a language Wegweiser does not serve is
    // answered in English and German, and the interface must not jump to a language the asker did not use.
    if (lang !== primaryLanguage(data?.detected_lang)) return;
    if (this.#explicitLang() || !lang || lang === this.#uiLang || !this.#hasCatalog(lang)) return;
    this.#autoLang = lang;
    this.#ready = this.#applyLanguage();
    await this.#ready;
  }

  #setStatus(text) {
    if (this.#els.status) this.#els.status.textContent = text;
  }

  // -- rendering -------------------------------------------------------------------------------------------

  #append(message) {
    const log = this.#els.log;
    log.append(message);
    if (log.scrollHeight > log.clientHeight) log.scrollTop = message.offsetTop - log.offsetTop;
    return message;
  }

  #uiText(tag, key, props = {}) {
    // Interface words inside a message are in the interface language, whatever the message is written in;
    // data-i18n lets a later language change relabel them.
    return h(tag, { lang: this.#uiLang, ...props, dataset: { ...props.dataset, i18n: key }, text: this.#t(key) });
  }

  #renderQuestion(question) {
    return this.#append(h("div", { class: "message question", part: "message question" },
      this.#uiText("p", "ui.you", { class: "who" }),
      h("p", { class: "text", dir: "auto", text: question })));
  }

  #renderError(key, question) {
    this.#append(h("div", { class: "message error", part: "message error" },
      this.#uiText("p", "ui.assistant", { class: "who" }),
      this.#uiText("p", key, { class: "text" }),
      this.#uiText("button", "ui.retry", {
        type: "button", class: "linklike retry", part: "retry-button", dataset: { action: "retry", question },
      })));
  }

  #renderAnswer(data, question) {
    const key = `${this.#ids}-m${++this.#messageCount}`;
    const lang = primaryLanguage(data.lang) || DEFAULT_LANG;
    const dir = data.dir === "rtl" || data.dir === "ltr" ? data.dir : directionOf(lang);
    const citations = (Array.isArray(data.citations) ? data.citations : [])
      .filter((c) => c && Number.isInteger(c.n));
    const citationIds = new Map(citations.map((c) => [c.n, `${key}-c${c.n}`]));
    const citationTitles = new Map(citations.map((c) => [c.n, String(c.title ?? "")]));

    const answerText = h("p", { class: "answer-text", id: `${key}-text` });
    const message = h("article", {
      class: "message assistant", part: "message answer", lang, dir, tabindex: "-1",
      "aria-labelledby": `${key}-who`, dataset: { answered: String(Boolean(data.answered)) },
    },
    this.#uiText("p", "ui.assistant", { class: "who", id: `${key}-who` }),
    data.answered === false ? this.#uiText("p", "ui.not_answered", { class: "badge" }) : null,
    data.coverage === "partial" ? this.#uiText("p", "ui.coverage_partial", { class: "badge partial" }) : null,
    answerText);
    message._wegweiser = { data, question, lang, citationIds, citationTitles, showingGerman: false };
    this.#fillAnswerText(answerText, String(data.answer ?? ""), message._wegweiser);

    const notice = data.translation?.notice;
    if (typeof notice === "string" && notice.trim()) {
      message.append(h("p", { class: "notice", text: notice }));
    }
    if (lang !== "de" && typeof data.answer_de === "string" && data.answer_de.trim()) {
      message.append(this.#uiText("button", "ui.show_german", {
        type: "button", class: "linklike", "aria-controls": `${key}-text`, dataset: { action: "toggle-german" },
      }));
    }
    // Contact cards, most relevant first (the server ranks them; older servers only send `offices`).
    const contacts = Array.isArray(data.contacts) ? data.contacts.filter((o) => o && o.name) : null;
    const offices = Array.isArray(data.offices) ? data.offices.filter((o) => o && o.name) : [];
    const cards = contacts && contacts.length ? contacts : [];
    // On a phone, a long answer starts as its text, the first contact and a "More" toggle.
    const collapse = this.#els.container.getBoundingClientRect().width < NARROW_PX &&
      (cards.length > 1 || citations.length > 0 || (!cards.length && offices.length > 1));
    const more = collapse ? h("div", { class: "more", id: `${key}-more`, hidden: true }) : message;
    if (cards.length) {
      message.append(this.#renderContacts(collapse ? cards.slice(0, 1) : cards, lang));
      if (collapse && cards.length > 1) more.append(this.#renderContacts(cards.slice(1), lang, "ui.more_contacts"));
    } else if (!contacts && offices.length) {
      message.append(this.#renderOffices(offices, lang));
    }
    const handover = this.#handoverCard(data, question);
    if (handover) message.append(this.#renderHandover(handover, data, question, key));
    if (citations.length) more.append(this.#renderCitations(citations, citationIds, lang));
    if (collapse) {
      const count = Math.max(cards.length - 1, 0) + citations.length;
      message.append(this.#uiText("button", "ui.more", {
        type: "button", class: "linklike more-toggle", part: "more-toggle", "aria-expanded": "false",
        "aria-controls": more.id, dataset: { action: "more", count: String(count) },
      }), more);
      const toggle = message.querySelector(".more-toggle");
      toggle.textContent = this.#t("ui.more", { count });
    }
    message.append(this.#renderActions(message, key), this.#renderFeedback(key));
    this.#append(message);
    this.#offerReadAloud(message);
    return message;
  }

  /** The answer's text with its line breaks, citation markers [n] as buttons that open citation n. */
  #fillAnswerText(el, text, state) {
    const nodes = [];
    let last = 0;
    for (const match of text.matchAll(MARKER)) {
      const n = Number(match[1]);
      const id = state.citationIds.get(n);
      if (!id) continue;
      nodes.push(text.slice(last, match.index));
      nodes.push(h("button", {
        type: "button", class: "marker", "aria-controls": id, dataset: { action: "cite", n: String(n) },
        text: match[0], lang: this.#uiLang,
        "aria-label": this.#t("ui.cite_label", { n, title: state.citationTitles.get(n) || "" }),
      }));
      last = match.index + match[0].length;
    }
    nodes.push(text.slice(last));
    el.replaceChildren(...nodes.filter((n) => n !== ""));
  }

  #toggleMore(button, open = button.getAttribute("aria-expanded") !== "true") {
    const region = this.shadowRoot.getElementById(button.getAttribute("aria-controls"));
    if (!region) return;
    region.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
    button.dataset.i18n = open ? "ui.less" : "ui.more";
    button.textContent = this.#t(button.dataset.i18n, { count: button.dataset.count });
  }

  #toggleGerman(button) {
    const message = button.closest("article");
    const state = message?._wegweiser;
    if (!state) return;
    const el = this.shadowRoot.getElementById(button.getAttribute("aria-controls"));
    state.showingGerman = !state.showingGerman;
    const german = state.showingGerman;
    this.#fillAnswerText(el, String(german ? state.data.answer_de : state.data.answer), state);
    if (german) {
      el.lang = "de";
      el.dir = "ltr";
    } else {
      el.removeAttribute("lang");
      el.removeAttribute("dir");
    }
    button.dataset.i18n = german ? "ui.show_translation" : "ui.show_german";
    button.textContent = this.#t(button.dataset.i18n);
    button.lang = this.#uiLang;
  }

  // -- acting on an answer ---------------------------------------------------------------------------------

  #renderActions(message, key) {
    const button = (action, i18n, extra = {}) => this.#uiText("button", i18n, {
      type: "button", class: "action linklike", part: `action ${action}`, dataset: { action }, ...extra,
    });
    return h("div", { class: "actions-wrap" },
      h("div", { class: "actions", role: "group", "aria-label": this.#t("ui.actions") },
        button("counter-card", "ui.counter_card", { "aria-haspopup": "dialog" }),
        button("copy", "ui.copy"),
        this.shareParam ? button("share", "ui.share") : null,
        button("print", "ui.print"),
        button("read-aloud", "ui.read_aloud", { hidden: true, "aria-pressed": "false" })),
      h("p", { class: "action-note", id: `${key}-note`, "aria-live": "polite" }));
  }

  #note(message, key, vars = {}) {
    const note = message?.querySelector(".action-note");
    if (!note) return null;
    note.replaceChildren(this.#t(key, vars));
    note.lang = this.#uiLang;
    return note;
  }

  /** The answer as plain text, with its sources (for copying). */
  #plainAnswer(message) {
    const { data } = message._wegweiser;
    const lines = [String(data.answer ?? "").replace(ISOLATES, "")];
    const citations = Array.isArray(data.citations) ? data.citations : [];
    if (citations.length) {
      lines.push("", this.#t("ui.sources"));
      for (const c of citations) {
        const href = typeof c.url === "string" ? this.#sourceHref(c.url) : null;
        lines.push(`[${c.n}] ${c.title} – ${c.source}, ${this.#t("answer.as_of", { date: c.as_of })}` +
          (href ? ` – ${href}` : ""));
      }
    }
    return lines.join("\n");
  }

  async #writeClipboard(text) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      return false;
    }
  }

  async #copyAnswer(message) {
    const ok = await this.#writeClipboard(this.#plainAnswer(message));
    this.#note(message, ok ? "ui.copied" : "ui.copy_failed");
  }

  /** A link to this page that asks the same question again (the page opts in with `share-param`). */
  #shareUrl(message) {
    const url = new URL(window.location.href);
    url.hash = "";
    url.searchParams.set(this.shareParam, message._wegweiser.question);
    url.searchParams.set("lang", message._wegweiser.lang);
    return url.href;
  }

  async #shareAnswer(message) {
    if (!this.shareParam) return;
    const href = this.#shareUrl(message);
    let ok = false;
    if (typeof navigator.share === "function") {
      try {
        await navigator.share({ title: this.#t("ui.title"), url: href });
        return;
      } catch (error) {
        if (error?.name === "AbortError") return;
      }
    }
    ok = await this.#writeClipboard(href);
    const note = this.#note(message, ok ? "ui.link_copied" : "ui.link_here");
    // The link is shown either way, so it can be copied by hand.
    note?.append(" ", h("a", { href, dir: "ltr", class: "share-link", text: href }));
  }

  /** Prints this answer only: the page around the widget and the rest of the chat are left out. */
  #printAnswer(message) {
    const pageSheet = new CSSStyleSheet();
    pageSheet.replaceSync(`@media print {
      body * { visibility: hidden !important; }
      ${this.localName}[data-printing], ${this.localName}[data-printing] * { visibility: visible !important; }
      ${this.localName}[data-printing] { position: absolute !important; inset-block-start: 0; inset-inline: 0; }
    }`);
    const doc = this.ownerDocument;
    doc.adoptedStyleSheets = [...doc.adoptedStyleSheets, pageSheet];
    this.setAttribute("data-printing", "");
    message.classList.add("printing");
    const done = () => {
      doc.adoptedStyleSheets = doc.adoptedStyleSheets.filter((sheet) => sheet !== pageSheet);
      this.removeAttribute("data-printing");
      message.classList.remove("printing");
    };
    window.addEventListener("afterprint", done, { once: true });
    window.print();
  }

  async #germanCatalog() {
    if (this.#germanMessages) return this.#germanMessages;
    const { lang, messages } = await this.#loadCatalog(DEFAULT_LANG);
    this.#germanMessages = lang === DEFAULT_LANG && messages ? messages : {};
    return this.#germanMessages;
  }

  /** German text for the counter card and the prepared message (whatever the interface language). */
  #de(messages, key, vars = {}) {
    const text = typeof messages[key] === "string" ? messages[key] : key;
    return text.replace(/\{(\w+)\}/g, (match, name) => (name in vars ? String(vars[name]) : match));
  }

  /** "Show at the office": the German answer, office, address, phone and source, large and high-contrast. */
  async #openCounterCard(message, opener) {
    const { data } = message._wegweiser;
    const de = await this.#germanCatalog();
    const card = this.#contactsOf(data)[0];
    const citation = (Array.isArray(data.citations) ? data.citations : []).find((c) => c && c.n === 1) ||
      data.citations?.[0];
    const headingId = `${this.#ids}-card-title`;
    const body = [h("div", { class: "card-head" },
      h("h2", { id: headingId, text: this.#de(de, "card.title") }),
      h("button", {
        type: "button", class: "close", part: "counter-card-close", lang: this.#uiLang, dir: this.#uiDir(),
        dataset: { action: "close-card" }, text: this.#t("ui.close"),
      })),
    h("p", { text: this.#de(de, "card.intro") }),
    h("h3", { text: this.#de(de, "card.answer") }),
    h("p", { class: "card-answer", text: String(data.answer_de ?? data.answer ?? "").replace(ISOLATES, "") })];
    if (card) {
      body.push(h("h3", { text: this.#de(de, "card.office") }), h("p", { class: "card-office", text: card.name }));
      const list = h("dl");
      for (const kind of ["address", "phone", "email", "hours"]) {
        const item = card.contact?.[kind]?.find((i) => i && typeof i.value === "string" && i.value.trim());
        if (!item) continue;
        const stand = item.as_of ? ` (${this.#de(de, "answer.as_of", { date: item.as_of })})` : "";
        list.append(h("dt", { text: this.#de(de, `contact.${kind}`) }),
          h("dd", {}, this.#contactValue(kind, item.value), stand));
      }
      if (list.childElementCount) body.push(list);
    }
    if (citation) {
      body.push(h("h3", { text: this.#de(de, "card.source") }),
        h("p", { text: `[${citation.n}] ${citation.section} – ${citation.title}` }),
        h("p", { text: `${citation.source}, ${this.#de(de, "answer.as_of", { date: citation.as_of })}` }));
    }
    if (data.question) {
      body.push(h("h3", { text: this.#de(de, "card.question") }),
        h("p", { dir: "auto", lang: primaryLanguage(data.detected_lang) || null, text: message._wegweiser.question }));
    }
    let dialog = this.#els.dialog;
    if (!dialog) {
      dialog = h("dialog", { class: "counter-card", part: "counter-card", lang: "de", dir: "ltr",
        "aria-labelledby": headingId });
      dialog.addEventListener("close", () => this.#els.dialogOpener?.focus());
      this.#els.dialog = dialog;
      this.#els.container.append(dialog);
    }
    dialog.replaceChildren(...body);
    this.#els.dialogOpener = opener;
    dialog.showModal();
    dialog.querySelector(".close").focus();
  }

  // -- a person to talk to ---------------------------------------------------------------------------------

  /** The human contact for a hand-over, or null when the answer does not call for one. */
  #handoverCard(data, question) {
    const text = String(question || "").toLocaleLowerCase();
    const asksForPerson = PERSON_WORDS.some((word) => text.includes(word));
    if (!asksForPerson && data.coverage !== "partial" && data.coverage !== "none") return null;
    const cards = Array.isArray(data.contacts) ? data.contacts.filter((c) => c && c.name) : [];
    return cards.find((c) => HANDOVER_ROLES.has(c.role)) || cards.find((c) => c.role === "fallback") ||
      cards[0] || null;
  }

  #renderHandover(card, data, question, key) {
    const box = h("section", { class: "handover", part: "handover", "aria-labelledby": `${key}-handover` },
      this.#uiText("h3", "ui.handover_title", { id: `${key}-handover` }),
      this.#uiText("p", "ui.handover_intro"),
      h("p", { class: "office-name", lang: "de", dir: "ltr", text: card.name }));
    const phone = card.contact?.phone?.find((i) => i && typeof i.value === "string")?.value;
    const email = card.contact?.email?.map((i) => i?.value).find((v) => typeof v === "string" && mailHref(v));
    if (phone) box.append(h("p", {}, this.#uiText("span", "contact.phone"), ": ", this.#contactValue("phone", phone)));
    const textareaId = `${key}-handover-text`;
    const textarea = h("textarea", {
      id: textareaId, class: "handover-text", lang: "de", dir: "ltr", readOnly: true, rows: 8,
    });
    box.append(this.#uiText("label", "ui.handover_message", { for: textareaId, class: "label" }), textarea,
      h("div", { class: "actions" },
        this.#uiText("button", "ui.handover_copy", {
          type: "button", class: "action linklike", dataset: { action: "copy-handover" }, "aria-controls": textareaId,
        }),
        email ? this.#uiText("a", "ui.handover_mail", { class: "action linklike mail", href: "mailto:" }) : null));
    if (AUTHORITY_ROLES.has(card.role) || card.kind === "office") {
      box.append(this.#uiText("p", "ui.handover_mediation", { class: "mediation" }));
    }
    // The prepared message is German (the office's language): filled in once the German catalog is in.
    this.#germanCatalog().then((de) => {
      const answer = String(data.answer_de ?? "").replace(ISOLATES, "").replace(MARKER, "").trim();
      textarea.value = this.#de(de, "card.message", { question, answer });
      const mail = box.querySelector("a.mail");
      if (mail) {
        mail.href = `mailto:${email.trim()}?subject=${encodeURIComponent(this.#de(de, "card.message_subject"))}` +
          `&body=${encodeURIComponent(textarea.value)}`;
      }
    });
    return box;
  }

  async #copyHandover(button) {
    const textarea = this.shadowRoot.getElementById(button.getAttribute("aria-controls"));
    if (!textarea) return;
    const ok = await this.#writeClipboard(textarea.value);
    if (!ok) textarea.select();
    this.#note(button.closest("article"), ok ? "ui.message_copied" : "ui.copy_failed");
  }

  // -- read aloud ------------------------------------------------------------------------------------------

  #voiceFor(lang) {
    const synth = globalThis.speechSynthesis;
    if (!synth || typeof synth.getVoices !== "function") return null;
    let voices = [];
    try {
      voices = synth.getVoices() || [];
    } catch {
      return null;
    }
    const wanted = (lang || "").toLowerCase();
    const matches = voices.filter((v) => primaryLanguage(String(v?.lang || "").replace("_", "-")) === wanted);
    return matches.find((v) => v.localService) || matches[0] || null;
  }

  /** The read-aloud button appears only when the browser has a voice for the answer's language. */
  #offerReadAloud(message) {
    const button = message.querySelector("[data-action=read-aloud]");
    const synth = globalThis.speechSynthesis;
    if (!button || !synth) return;
    const lang = message._wegweiser.lang;
    const show = () => {
      if (this.#voiceFor(lang)) button.hidden = false;
    };
    show();
    // Voices often load after the page: look again when the list changes.
    if (button.hidden && typeof synth.addEventListener === "function") {
      synth.addEventListener("voiceschanged", show, { once: true, signal: this.#listeners?.signal });
    }
  }

  #readAloud(message, button) {
    const synth = globalThis.speechSynthesis;
    const voice = this.#voiceFor(message._wegweiser.lang);
    if (!synth || !voice) return;
    const speaking = button.getAttribute("aria-pressed") === "true";
    this.#stopSpeaking();
    if (speaking) return;
    const { data, showingGerman } = message._wegweiser;
    const text = String(showingGerman ? data.answer_de : data.answer).replace(ISOLATES, "").replace(MARKER, "");
    const utterance = new SpeechSynthesisUtterance(text);
    utterance.lang = showingGerman ? "de-DE" : voice.lang;
    try {
      if (!showingGerman) utterance.voice = voice;
    } catch {
      // a voice object the browser does not accept: the language alone picks one
    }
    const reset = () => this.#setSpeaking(button, false);
    utterance.addEventListener("end", reset);
    utterance.addEventListener("error", reset);
    this.#setSpeaking(button, true);
    synth.speak(utterance);
  }

  #setSpeaking(button, on) {
    button.setAttribute("aria-pressed", String(on));
    button.dataset.i18n = on ? "ui.stop_reading" : "ui.read_aloud";
    button.textContent = this.#t(button.dataset.i18n);
  }

  #stopSpeaking() {
    const synth = globalThis.speechSynthesis;
    for (const button of this.#els.log?.querySelectorAll("[data-action=read-aloud][aria-pressed=true]") || []) {
      this.#setSpeaking(button, false);
    }
    try {
      if (synth?.speaking || synth?.pending) synth.cancel();
    } catch {
      // nothing to stop
    }
  }

  // -- feedback --------------------------------------------------------------------------------------------

  #renderFeedback(key) {
    const choice = (action, value, i18n) => this.#uiText("button", i18n, {
      type: "button", class: "action linklike", dataset: { action, value },
    });
    return h("div", { class: "feedback", part: "feedback", role: "group", "aria-labelledby": `${key}-helpful` },
      this.#uiText("p", "ui.helpful", { id: `${key}-helpful` }),
      h("div", { class: "feedback-buttons" }, choice("helpful", "yes", "ui.yes"), choice("helpful", "no", "ui.no")),
      h("div", { class: "reasons", hidden: true, role: "group", "aria-label": this.#t("ui.reason_prompt") },
        FEEDBACK_REASONS.map((reason) => choice("reason", reason, `ui.reason.${reason}`)),
        choice("reason", "", "ui.reason.none")),
      h("p", { class: "feedback-note", "aria-live": "polite" }));
  }

  async #sendFeedback(message, button, helpful, reason) {
    const box = button.closest(".feedback");
    if (!message || !box) return;
    if (!helpful && button.dataset.action === "helpful") {
      // "No" first asks why; the answer is sent with the reason (or none).
      box.querySelector(".feedback-buttons").hidden = true;
      const reasons = box.querySelector(".reasons");
      reasons.hidden = false;
      reasons.querySelector("button")?.focus();
      return;
    }
    const { data, lang } = message._wegweiser;
    const unitIds = (Array.isArray(data.citations) ? data.citations : [])
      .map((c) => c?.id).filter((id) => typeof id === "string" && id).slice(0, MAX_UNIT_IDS);
    const coverage = ["full", "partial", "none"].includes(data.coverage) ? data.coverage : "none";
    for (const el of box.querySelectorAll("button")) el.disabled = true;
    let ok = false;
    try {
      const response = await fetch(`${this.apiUrl}/api/feedback`, {
        ...FETCH_DEFAULTS, method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ unit_ids: unitIds, lang, coverage, helpful, reason }),
      });
      ok = response.ok;
    } catch {
      ok = false;
    }
    const note = box.querySelector(".feedback-note");
    note.dataset.i18n = ok ? "ui.feedback_thanks" : "ui.feedback_failed";
    note.dataset.sent = String(ok);
    note.textContent = this.#t(note.dataset.i18n);
    note.lang = this.#uiLang;
    box.querySelector(".feedback-buttons").hidden = true;
    box.querySelector(".reasons").hidden = true;
  }

  // -- a shared question -----------------------------------------------------------------------------------

  /** With `share-param`, a question in the page address (`?frage=…&lang=…`) is asked once on load. */
  #askSharedQuestion() {
    const param = this.shareParam;
    if (!param || this.#sharedAsked) return;
    const params = new URLSearchParams(window.location.search);
    const question = (params.get(param) || "").trim();
    if (!question) return;
    this.#sharedAsked = true;
    const lang = primaryLanguage(params.get("lang"));
    if (lang && !this.#explicitLang()) this.setAttribute("lang", lang);
    this.#ask(question);
  }

  #openCitation(id) {
    const details = id ? this.shadowRoot.getElementById(id) : null;
    if (!details) return;
    const region = details.closest(".more");
    const toggle = region ? this.shadowRoot.querySelector(`[aria-controls="${region.id}"]`) : null;
    if (toggle) this.#toggleMore(toggle, true);
    details.open = true;
    const summary = details.querySelector("summary");
    summary?.focus();
    details.scrollIntoView({ block: "nearest" });
  }

  #renderOffices(offices, lang) {
    // Offices with contact details first: those are the ones the asker can turn to.
    const sorted = [...offices].sort((a, b) => Number(this.#hasContact(b)) - Number(this.#hasContact(a)));
    return h("section", { class: "offices" },
      this.#uiText("h3", "ui.responsible"),
      h("ul", {}, sorted.map((office) => this.#renderOffice(office, lang))));
  }

  #renderContacts(contacts, lang, headingKey = "ui.who_helps") {
    return h("section", { class: "offices contacts", part: "contacts" },
      this.#uiText("h3", headingKey),
      h("ul", {}, contacts.map((card) => this.#renderOffice(card, lang))));
  }

  #hasContact(office) {
    const contact = office.contact && typeof office.contact === "object" ? office.contact : {};
    return CONTACT_KINDS.some((kind) => Array.isArray(contact[kind]) && contact[kind].length > 0);
  }

  #renderOffice(office, lang) {
    const withContact = this.#hasContact(office);
    const card = h("li", { class: withContact ? "office-card" : "office-card compact", part: "office-card" },
      h("p", { class: "office-name", lang: "de", text: office.name }));
    const translated = office.name_translated;
    if (typeof translated === "string" && translated.trim() && translated !== office.name && lang !== "de") {
      card.append(h("p", { class: "office-name-translated", text: translated }));
    }
    if (!withContact) return card;
    const list = h("dl", { class: "contact" });
    for (const kind of CONTACT_KINDS) {
      for (const item of office.contact[kind] || []) {
        if (!item || typeof item.value !== "string" || !item.value.trim()) continue;
        list.append(this.#uiText("dt", `contact.${kind}`), h("dd", {}, this.#contactValue(kind, item.value),
          this.#asOf(item),
          typeof item.note === "string" && item.note ? h("span", { class: "contact-note", lang: "de", text: item.note }) : null));
      }
    }
    card.append(list);
    return card;
  }

  #contactValue(kind, value) {
    const href = kind === "phone" ? telHref(value) : kind === "email" ? mailHref(value)
      : kind === "website" ? websiteHref(value) : null;
    // dir="ltr" isolates the value: an address or "Mo 9–12" keeps its order inside right-to-left text.
    if (!href) return h("span", { lang: "de", dir: "ltr", text: value });
    const external = kind === "website";
    return h("a", {
      href, text: value, dir: "ltr", target: external ? "_blank" : null, rel: external ? "noopener noreferrer" : null,
    });
  }

  /** "Stand 2022" (linked to the public source it was taken from) or "Datum unbekannt"; flagged if dated. */
  #asOf(item) {
    const date = typeof item.as_of === "string" && item.as_of.trim() ? item.as_of.trim() : null;
    let text = date ? this.#t("answer.as_of", { date }) : this.#t("answer.as_of_unknown");
    if (item.dated) text = `${text}, ${this.#t("answer.dated")}`;
    const source = typeof item.source === "string" ? safeWebUrl(item.source) : null;
    const wrapper = h("span", { class: "as-of", lang: this.#uiLang });
    wrapper.append(source
      ? h("a", { href: source, target: "_blank", rel: "noopener noreferrer", text })
      : text);
    return wrapper;
  }

  #renderCitations(citations, citationIds, lang) {
    return h("section", { class: "citations" },
      this.#uiText("h3", "ui.sources"),
      h("ol", {}, citations.map((c) => h("li", {}, this.#renderCitation(c, citationIds.get(c.n), lang)))));
  }

  #renderCitation(citation, id, lang) {
    const body = h("div", { class: "citation-body" });
    // A long unit is cited by the lines that answer: those first, then the whole text of record.
    const quote = citation.quote && typeof citation.quote.text === "string" && citation.quote.text.trim()
      ? citation.quote : null;
    if (quote) {
      body.append(this.#uiText("p", "ui.quoted", { class: "label" }),
        h("blockquote", { lang: "de", dir: "ltr", class: "quoted-text", part: "quote", text: quote.text }));
      if (typeof quote.text_translated === "string" && quote.text_translated.trim()) {
        body.append(this.#uiText("p", "ui.unofficial", { class: "label" }),
          h("blockquote", { class: "quoted-text translated-text", text: quote.text_translated }));
      }
    }
    body.append(this.#uiText("p", "ui.source_text", { class: "label" }),
      h("blockquote", { lang: "de", dir: "ltr", class: "source-text", text: String(citation.text ?? "") }));
    const translated = citation.text_translated;
    if (typeof translated === "string" && translated.trim()) {
      body.append(this.#uiText("p", "ui.unofficial", { class: "label" }),
        h("blockquote", { class: "translated-text", text: translated }));
    }
    if (typeof citation.source === "string" && citation.source) {
      body.append(h("p", { class: "meta" },
        h("span", { lang: "de", dir: "ltr", text: citation.source }),
        typeof citation.as_of === "string" && citation.as_of
          ? h("span", { lang: this.#uiLang, text: ` · ${this.#t("answer.as_of", { date: citation.as_of })}` }) : null));
    }
    // The quote's address asks the source page to mark the quoted lines.
    const url = quote && typeof quote.url === "string" ? quote.url : citation.url;
    const href = typeof url === "string" ? this.#sourceHref(url) : null;
    if (href) {
      body.append(h("p", {}, h("a", {
        href, target: "_blank", rel: "noopener", part: "source-link", lang: this.#uiLang,
        text: this.#t("ui.open_source"),
      })));
    }
    return h("details", { id, part: "citation", class: "citation", dataset: { n: String(citation.n) } },
      h("summary", {},
        h("span", { class: "n", text: `[${citation.n}]` }),
        h("span", { class: "summary-text", lang: "de", dir: "ltr" },
          h("span", { class: "section", text: String(citation.section ?? "") }),
          h("span", { class: "title", text: String(citation.title ?? "") }))),
      body);
  }

  /** Source links are relative to the API (`/sources/…`); absolute ones must be http(s). */
  #sourceHref(url) {
    return url.startsWith("/") && !url.startsWith("//") ? safeWebUrl(`${this.apiUrl}${url}`) : safeWebUrl(url);
  }
}

WegweiserChatElement.define();
