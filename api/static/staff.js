// The staff search page: instant search over the Integrationskonzept with the responsible offices,
// filters by action field and office (with facet counts), and an office view listing everything an office
// is responsible for. No framework; everything from the API is rendered with DOM nodes and textContent.
// Without search words, choosing an action field or an office lists all of its units in document order.

const DEBOUNCE_MS = 200;
const HITS = 20;
const KIND_LABELS = {
  measure: "Maßnahme", goal: "Operatives Ziel", field: "Handlungsfeld", intro: "Einleitung",
  strategy: "Sozialstrategie", service: "Dienst", procedure: "Verfahren", office: "Stelle",
};
const OFFICE_TYPES = {
  verwaltung: "Stadtverwaltung", politik: "Politik", eigenbetrieb: "Eigenbetrieb", gesellschaft: "Gesellschaft",
  gremium: "Gremium", extern: "Externe Stelle", sammelbegriff: "Sammelbegriff",
};
const CONTACT_LABELS = { phone: "Telefon", email: "E-Mail", website: "Internet", address: "Adresse", hours: "Öffnungszeiten" };

const $ = (id) => document.getElementById(id);
const els = {
  form: $("staff-search"), q: $("q"), field: $("field"), office: $("office"), count: $("result-count"),
  hits: $("hits"), view: $("office-view"), viewTitle: $("office-view-title"), viewMeta: $("office-view-meta"),
  viewContact: $("office-view-contact"), viewCount: $("office-view-count"), viewList: $("office-view-list"),
  viewClose: $("office-view-close"), viewCsv: $("office-view-csv"), viewPrint: $("office-view-print"),
};

let searchController = null;
let officeController = null;
let debounceTimer = 0;
const offices = new Map();

/** `document.createElement` with properties and children. */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") el.textContent = value;
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key in el && !key.includes("-")) el[key] = value;
    else el.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) el.append(child);
  }
  return el;
}

function safeWebUrl(value) {
  try {
    const url = new URL(value, window.location.origin);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

function contactHref(kind, value) {
  const text = value.trim();
  if (kind === "phone") {
    const digits = text.replace(/[^\d]/g, "");
    return digits.length >= 3 ? `tel:${text.startsWith("+") ? "+" : ""}${digits}` : null;
  }
  if (kind === "email") return /^[^\s@<>()"',;:]+@[^\s@<>()"',;:]+\.[a-zA-Z]{2,}$/.test(text) ? `mailto:${text}` : null;
  if (kind === "website") return safeWebUrl(/^https?:\/\//i.test(text) ? text : `https://${text}`);
  return null;
}

/** Links into the source documents stay relative (same server); anything absolute must be http(s). */
function sourceHref(url) {
  if (typeof url !== "string" || !url) return null;
  return /^\/(?![\/\\])/.test(url) ? url : safeWebUrl(url);
}

const slugOf = (officeId) => officeId.replace(/^office\//, "");

async function getJSON(url, signal) {
  const response = await fetch(url, { signal, headers: { Accept: "application/json" } });
  if (!response.ok) {
    const error = new Error(`HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return response.json();
}

function problemText(error) {
  if (error.status === 429) return "Zu viele Anfragen in kurzer Zeit – bitte einen Moment warten.";
  if (error.status === 503) return "Der Suchindex wird gerade geladen – bitte gleich noch einmal versuchen.";
  return "Die Suche ist gerade nicht möglich. Bitte versuchen Sie es noch einmal.";
}

// -- state in the address bar (so a search can be shared and survives a reload) ---------------------------

function readState() {
  const params = new URLSearchParams(window.location.search);
  els.q.value = params.get("q") || "";
  els.field.value = params.get("field") || "";
  return params.get("office") || "";
}

function writeState() {
  const params = new URLSearchParams();
  if (els.q.value.trim()) params.set("q", els.q.value.trim());
  if (els.field.value) params.set("field", els.field.value);
  if (els.office.value) params.set("office", els.office.value);
  const query = params.toString();
  history.replaceState(null, "", query ? `?${query}` : window.location.pathname);
}

// -- offices ----------------------------------------------------------------------------------------------

async function loadOffices(selected) {
  try {
    const list = await getJSON("/api/offices");
    list.sort((a, b) => a.name.localeCompare(b.name, "de"));
    for (const office of list) {
      offices.set(office.id, office);
      els.office.append(h("option", { value: office.id, dataset: { label: office.name }, text: office.name }));
    }
  } catch (error) {
    els.count.textContent = problemText(error);
  }
  if (selected && offices.has(selected)) els.office.value = selected;
}

function officeLink(office) {
  return h("a", {
    href: `/staff?office=${encodeURIComponent(office.id)}`, class: "office-link",
    dataset: { office: office.id }, text: office.name,
  });
}

function renderContact(contact) {
  const list = h("dl", { class: "contact" });
  for (const kind of Object.keys(CONTACT_LABELS)) {
    for (const item of (contact && contact[kind]) || []) {
      if (!item || typeof item.value !== "string") continue;
      const href = contactHref(kind, item.value);
      const source = item.source ? safeWebUrl(item.source) : null;
      const dated = `Stand: ${item.as_of || "unbekannt"}${item.dated ? ", möglicherweise veraltet" : ""}`;
      list.append(h("dt", { text: CONTACT_LABELS[kind] }), h("dd", {},
        href ? h("a", { href, text: item.value }) : h("span", { text: item.value }), " ",
        h("small", {}, "(", source ? h("a", { href: source, rel: "noopener noreferrer", text: dated }) : dated, ")")));
    }
  }
  return list.children.length ? list : h("p", { class: "hint", text: "Die Quellen nennen keine Kontaktdaten." });
}

async function showOffice(officeId, { focus = false } = {}) {
  officeController?.abort();
  if (!officeId) {
    els.view.hidden = true;
    return;
  }
  officeController = new AbortController();
  const known = offices.get(officeId);
  els.view.hidden = false;
  els.viewTitle.textContent = known ? known.name : slugOf(officeId);
  els.viewMeta.textContent = "";
  els.viewContact.replaceChildren();
  els.viewCount.textContent = "Wird geladen …";
  els.viewList.replaceChildren();
  els.viewCsv.href = `/api/offices/${encodeURIComponent(slugOf(officeId))}/measures.csv`;
  els.viewPrint.href = `/staff/offices/${encodeURIComponent(slugOf(officeId))}/print`;
  if (focus) els.viewTitle.focus();
  try {
    const office = await getJSON(`/api/offices/${encodeURIComponent(slugOf(officeId))}`, officeController.signal);
    els.viewTitle.textContent = office.name;
    const meta = [OFFICE_TYPES[office.type] || office.type, office.aliases?.length ? `auch: ${office.aliases.join(", ")}` : null];
    els.viewMeta.textContent = meta.filter(Boolean).join(" · ");
    els.viewContact.replaceChildren(h("h3", { text: "Kontakt" }), renderContact(office.contact));
    const items = office.responsibilities || [];
    els.viewCount.textContent = `Zuständig für ${items.length} ${items.length === 1 ? "Eintrag" : "Einträge"}`;
    els.viewList.replaceChildren(...items.map(renderResponsibility));
  } catch (error) {
    if (error.name === "AbortError") return;
    els.viewCount.textContent = error.status === 404 ? "Diese Stelle gibt es nicht." : problemText(error);
  }
}

function renderResponsibility(unit) {
  const source = sourceHref(unit.url);
  return h("li", { class: "responsibility" },
    h("p", { class: "hit-section", text: unit.section }),
    h("p", { class: "responsibility-title", text: unit.title }),
    unit.verantwortung ? h("p", { class: "hit-meta", text: `Verantwortung: ${unit.verantwortung}` }) : null,
    h("p", { class: "hit-meta" },
      unit.termin ? `Termin: ${unit.termin} · ` : "",
      source ? h("a", { href: source, text: "Zur Quelle" }) : null));
}

// -- search -----------------------------------------------------------------------------------------------

function updateFacets(facets) {
  const fields = facets?.field || {};
  for (const option of els.field.options) {
    if (!option.value) continue;
    // A parent field (2.3, 2.5) counts its subfields: the filter matches by prefix too.
    let count = null;
    for (const [key, value] of Object.entries(fields)) {
      if (key === option.value || key.startsWith(`${option.value}.`)) count = (count || 0) + value;
    }
    option.textContent = count === null ? option.dataset.label : `${option.dataset.label} (${count})`;
  }
  const officeCounts = facets?.office || {};
  for (const option of els.office.options) {
    if (!option.value) continue;
    const count = officeCounts[option.value];
    option.textContent = count === undefined ? option.dataset.label : `${option.dataset.label} (${count})`;
  }
}

function clearFacets() {
  updateFacets({});
}

function renderHit(hit) {
  const source = sourceHref(hit.url);
  const headingId = `hit-${hit.id.replace(/[^a-z0-9]/gi, "-")}`;
  const officeList = (hit.offices || []).length
    ? h("ul", { class: "hit-offices", "aria-label": "Zuständig" },
      hit.offices.map((office) => h("li", {}, officeLink(office))))
    : h("p", { class: "hint", text: "Keine zuständige Stelle genannt." });
  return h("li", { class: "hit" },
    h("article", { "aria-labelledby": headingId },
      h("div", { class: "hit-responsible" }, h("span", { class: "hit-responsible-label", text: "Zuständig:" }), officeList),
      h("p", { class: "hit-section" },
        h("span", { class: "kind", text: KIND_LABELS[hit.kind] || hit.kind }), " ", hit.section),
      h("h2", { class: "hit-title", id: headingId, text: hit.title }),
      h("p", { class: "hit-text", text: hit.text }),
      h("p", { class: "hit-meta" },
        hit.termin ? h("span", { class: "termin", text: `Termin: ${hit.termin}` }) : null,
        hit.termin && source ? " · " : null,
        source ? h("a", { href: source, text: "Zur Stelle in der Quelle" }) : null,
        h("span", { class: "unit-id", text: ` · ${hit.id}` }))));
}

function filterParts() {
  const parts = [];
  if (els.field.value) parts.push(`Handlungsfeld ${els.field.value}`);
  if (els.office.value) parts.push(offices.get(els.office.value)?.name || els.office.value);
  return parts;
}

function filterText() {
  const parts = filterParts();
  return parts.length ? ` (gefiltert: ${parts.join(", ")})` : "";
}

function countText(q, hits) {
  if (!q) {
    const scope = filterParts().join(", ");
    return hits.length
      ? `${hits.length} ${hits.length === 1 ? "Eintrag" : "Einträge"}: ${scope} (in der Reihenfolge der Quelle)`
      : `Keine Einträge: ${scope}.`;
  }
  if (hits.length) return `${hits.length} Treffer für „${q}“${filterText()}`;
  // The server shows only units that share a word with the query or are close to it in meaning.
  return `Keine Treffer für „${q}“${filterText()}. Kein Eintrag enthält dieses Wort oder passt inhaltlich dazu – ` +
    "prüfen Sie die Schreibweise, versuchen Sie ein anderes Wort oder wählen Sie ein Handlungsfeld.";
}

async function search() {
  clearTimeout(debounceTimer);
  searchController?.abort();
  writeState();
  const q = els.q.value.trim();
  if (!q && !els.field.value && !els.office.value) {
    els.hits.replaceChildren();
    els.count.textContent = "";
    clearFacets();
    return;
  }
  searchController = new AbortController();
  // Without words: browse everything of the chosen field or office (the API then lists all of it).
  const params = new URLSearchParams(q ? { q, k: String(HITS) } : {});
  if (els.field.value) params.set("field", els.field.value);
  if (els.office.value) params.set("office", els.office.value);
  els.form.setAttribute("aria-busy", "true");
  try {
    const result = await getJSON(`/api/search?${params}`, searchController.signal);
    const hits = result.hits || [];
    els.hits.replaceChildren(...hits.map(renderHit));
    updateFacets(result.facets);
    els.count.textContent = countText(q, hits);
  } catch (error) {
    if (error.name === "AbortError") return;
    els.hits.replaceChildren();
    els.count.textContent = problemText(error);
  } finally {
    els.form.removeAttribute("aria-busy");
  }
}

function searchSoon() {
  clearTimeout(debounceTimer);
  debounceTimer = setTimeout(search, DEBOUNCE_MS);
}

function selectOffice(officeId, options) {
  els.office.value = officeId;
  showOffice(officeId, options);
  search();
}

els.form.addEventListener("submit", (event) => {
  event.preventDefault();
  search();
});
els.q.addEventListener("input", searchSoon);
els.field.addEventListener("change", search);
els.office.addEventListener("change", () => selectOffice(els.office.value));
els.viewClose.addEventListener("click", () => {
  selectOffice("");
  els.office.focus();
});
document.addEventListener("click", (event) => {
  const link = event.target instanceof Element ? event.target.closest("a[data-office]") : null;
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  selectOffice(link.dataset.office, { focus: true });
});

const initialOffice = readState();
await loadOffices(initialOffice);
if (els.office.value) showOffice(els.office.value);
if (els.q.value.trim() || els.field.value || els.office.value) search();
