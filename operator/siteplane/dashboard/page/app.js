// The siteplane dashboard page: one ES module, no build step, nothing fetched but this server's API.
//
// Everything shown comes from the API and is hostile input (names, TXT values, messages): it
// reaches the DOM only as text (text nodes, textContent, attribute values), never as HTML.
// The token lives in this tab's sessionStorage and travels only in the Authorization header.

const API = "/api/v1";
const TOKEN_KEY = "siteplane.token";
const RECORD_TYPES = ["A", "AAAA", "CNAME", "MX", "SRV", "CAA", "TXT", "NS", "PTR"];
const NAME_PATTERN = "[a-z0-9]([\\-.a-z0-9]*[a-z0-9])?";
const NAMESPACE_PATTERN = "[a-z0-9]([\\-a-z0-9]*[a-z0-9])?";

// The three lists; `resource` is the RBAC resource /me reports permissions for.
const KINDS = {
  sites: { label: "Sites", resource: "sites", path: "sites", one: "site" },
  zones: { label: "Zones", resource: "dnszones", path: "zones", one: "zone" },
  records: { label: "Records", resource: "dnsrecords", path: "records", one: "record" },
};
// What a change event may call a kind.
const KIND_NAMES = {
  site: "sites", sites: "sites",
  dnszone: "zones", dnszones: "zones", zone: "zones", zones: "zones",
  dnsrecord: "records", dnsrecords: "records", record: "records", records: "records",
};
// The search box of each list sends the first of these its endpoint takes (from the OpenAPI
// document), with `<param>Match=contains` when the endpoint takes that too.
const SEARCH_PARAMS = {
  sites: ["domain", "name"],
  zones: ["zoneName", "zone", "domain", "name"],
  records: ["fqdn", "domain", "recordName", "name"],
};
const VALUE_HINTS = {
  A: "one IPv4 address per line",
  AAAA: "one IPv6 address per line",
  CNAME: "one host name",
  MX: "one per line: preference host, e.g. 10 mail.example.com",
  SRV: "one per line: priority weight port target",
  CAA: "one per line: [flags] tag value, e.g. 0 issue letsencrypt.org",
  TXT: "one text per line",
  NS: "one name server per line",
  PTR: "one host name per line",
};

const state = {
  token: null,
  me: null,
  caps: null, // what this server offers, from its OpenAPI document (null: assume everything)
  tab: null,
  filters: { sites: {}, zones: {}, records: {} },
  rows: new Map(), // "namespace/name" -> <tr> of the list shown
  next: null, // continue token of the list shown
  listSeq: 0,
  detail: null, // { tab, namespace, name }
  detailSeq: 0,
  stream: null,
  lastEventId: null,
  retryMs: 1000,
  liveEvents: 0,
  timers: new Map(),
};

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------------------------
// Building the DOM from data: text only.

function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "innerHTML" || key === "outerHTML") throw new Error("no HTML from data");
    if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key in el && key !== "list" && key !== "form") el[key] = value;
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const enc = encodeURIComponent;
const keyOf = (namespace, name) => `${namespace}/${name}`;

function when(value) {
  if (!value) return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  const pad = (n) => String(n).padStart(2, "0");
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

function valueText(value) {
  if (value === null || value === undefined) return "";
  if (typeof value !== "object") return String(value);
  if ("preference" in value && "host" in value) return `${value.preference} ${value.host}`;
  if ("target" in value && "port" in value) return `${value.priority} ${value.weight} ${value.port} ${value.target}`;
  if ("tag" in value) return `${value.flags ?? 0} ${value.tag} "${value.value}"`;
  return JSON.stringify(value);
}

function valueList(values) {
  const list = Array.isArray(values) ? values : values === undefined || values === null ? [] : [values];
  return h("ul", { className: "values" }, list.map((v) => h("li", {}, valueText(v))));
}

function readyBadge(ready) {
  const status = ready?.status ?? "Unknown";
  const reason = ready?.reason ?? "";
  let text = status === "True" ? "Ready" : reason || (status === "False" ? "Not ready" : "Pending");
  let tone = "bad";
  if (status === "True") tone = "ok";
  else if (status === "Unknown" || ["Pending", "Suspended", "Reconciling"].includes(reason)) tone = "wait";
  if (status === "True" && reason && reason !== "Published" && reason !== "Served") text = `Ready (${reason})`;
  return h("span", {
    className: `badge ${tone}`,
    title: ready?.message || reason || status,
    dataset: { ready: status, reason },
  }, text);
}

// ---------------------------------------------------------------------------------------------
// Messages.

function showMessage(text, tone = "error") {
  const box = $("message");
  box.className = `message ${tone}`;
  $("message-text").textContent = text;
  box.hidden = false;
  clearTimeout(state.timers.get("message"));
  if (tone === "ok") state.timers.set("message", setTimeout(() => { box.hidden = true; }, 8000));
}

function clearMessage() {
  $("message").hidden = true;
}

class ApiError extends Error {
  constructor(status, message, problem) {
    super(message);
    this.status = status;
    this.problem = problem;
  }
}

// The problem's detail, and where each refused field is.
function problemText(status, problem) {
  let text = `The server answered ${status}`;
  if (problem && typeof problem === "object") {
    if (typeof problem.detail === "string" && problem.detail) text = problem.detail;
    else if (typeof problem.title === "string" && problem.title) text = `${problem.title} (${status})`;
    const errors = Array.isArray(problem.errors) ? problem.errors : [];
    const parts = errors
      .map((e) => (e && typeof e === "object"
        ? [e.location ?? e.field ?? e.path, e.message ?? e.msg ?? e.reason].filter(Boolean).join(": ")
        : String(e)))
      .filter(Boolean);
    if (parts.length) text += ` (${parts.join("; ")})`;
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// The API.

async function api(method, path, { query, body, signingIn = false } = {}) {
  const url = new URL(API + path, location.origin);
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
  }
  const headers = { Authorization: `Bearer ${state.token}`, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    throw new ApiError(0, "The server cannot be reached; check the connection and try again.");
  }
  let data = null;
  if ((response.headers.get("content-type") || "").includes("json")) {
    try {
      data = await response.json();
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    if (response.status === 401 && !signingIn) {
      signOut("The cluster no longer accepts your token; sign in again.");
    }
    throw new ApiError(response.status, problemText(response.status, data), data);
  }
  return data;
}

// What this server offers, from its OpenAPI document: the others' endpoints may not be there yet.
async function loadCapabilities() {
  let doc;
  try {
    const response = await fetch("/openapi.json", { cache: "no-store", credentials: "omit" });
    if (!response.ok) return null;
    doc = await response.json();
  } catch {
    return null;
  }
  const operations = new Map();
  for (const [path, item] of Object.entries(doc?.paths ?? {})) {
    operations.set(path.replace(/\{[^}]*\}/g, "{}"), item);
  }
  const operation = (method, path) => operations.get(path.replace(/\{[^}]*\}/g, "{}"))?.[method.toLowerCase()];
  return {
    has: (method, path) => Boolean(operation(method, path)),
    params(method, path) {
      const found = new Map();
      for (const param of operation(method, path)?.parameters ?? []) {
        if (param.in !== "query") continue;
        const schema = param.schema ?? {};
        const options = schema.enum ?? (schema.anyOf ?? []).find((s) => Array.isArray(s.enum))?.enum ?? null;
        found.set(param.name, { options, default: schema.default });
      }
      return found;
    },
  };
}

const offers = (method, path) => !state.caps || state.caps.has(method, path);

function listParams(tab) {
  return state.caps ? state.caps.params("get", `${API}/${KINDS[tab].path}`) : null;
}

// ---------------------------------------------------------------------------------------------
// Permissions, as /me reports them (the API refuses anything else anyway).

function may(resource, verb, namespace, name) {
  const granted = state.me?.permissions?.[resource];
  if (!granted) return false;
  if ((granted.everywhere ?? []).includes(verb)) return true;
  if ((granted.namespaces ?? []).some((n) => n.namespace === namespace && n.verbs.includes(verb))) return true;
  return Boolean(name) && (granted.names ?? []).some(
    (n) => (n.namespace === null || n.namespace === undefined || n.namespace === namespace)
      && n.name === name && n.verbs.includes(verb),
  );
}

function seesAny(resource) {
  const granted = state.me?.permissions?.[resource];
  if (!granted) return false;
  const viewing = (verbs) => verbs.includes("get") || verbs.includes("list");
  return viewing(granted.everywhere ?? [])
    || (granted.namespaces ?? []).some((n) => viewing(n.verbs))
    || (granted.names ?? []).some((n) => viewing(n.verbs));
}

const gitops = (namespace) => (state.me?.gitopsNamespaces ?? []).includes(namespace);
const mayChange = (resource, verb, namespace, name) => !gitops(namespace) && may(resource, verb, namespace, name);

// Namespaces the caller may create records in; null: every namespace (type one in).
function recordNamespaces() {
  const granted = state.me?.permissions?.dnsrecords;
  if (!granted) return [];
  if ((granted.everywhere ?? []).includes("create")) return null;
  return (granted.namespaces ?? [])
    .filter((n) => n.verbs.includes("create") && !gitops(n.namespace))
    .map((n) => n.namespace);
}

function knownNamespaces() {
  const found = new Set();
  for (const granted of Object.values(state.me?.permissions ?? {})) {
    for (const n of granted.namespaces ?? []) found.add(n.namespace);
    for (const n of granted.names ?? []) if (n.namespace) found.add(n.namespace);
  }
  return [...found].sort();
}

// ---------------------------------------------------------------------------------------------
// Signing in and out.

async function signIn(token) {
  state.token = token;
  let me;
  try {
    me = await api("GET", "/me", { signingIn: true });
  } catch (error) {
    state.token = null;
    if (error.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      showSignIn("The cluster does not accept this token.");
    } else {
      // The server or the cluster is down for a moment: a token it accepted before is kept.
      showSignIn(`${error.message.replace(/\.$/, "")}; reload the page to try again.`);
    }
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  state.me = me;
  state.caps = await loadCapabilities();
  clearMessage();
  $("sign-in").hidden = true;
  $("token").value = "";
  $("main").hidden = false;
  $("sign-out").hidden = false;
  const groups = (me.groups ?? []).filter((g) => !g.startsWith("system:"));
  $("whoami").textContent = groups.length ? `${me.user} (${groups.join(", ")})` : me.user;
  $("whoami").hidden = false;

  const visible = Object.keys(KINDS).filter((tab) => seesAny(KINDS[tab].resource));
  for (const button of document.querySelectorAll("#tabs [data-tab]")) {
    button.hidden = !visible.includes(button.dataset.tab);
  }
  $("nothing-visible").hidden = visible.length > 0;
  document.body.dataset.signedIn = me.user;
  startStream();
  const wanted = location.hash.slice(1);
  selectTab(visible.includes(wanted) ? wanted : visible[0] ?? null);
}

function signOut(why) {
  sessionStorage.removeItem(TOKEN_KEY);
  stopStream();
  Object.assign(state, { token: null, me: null, tab: null, detail: null, next: null, lastEventId: null });
  state.rows.clear();
  state.listSeq += 1;
  state.detailSeq += 1;
  delete document.body.dataset.signedIn;
  $("main").hidden = true;
  $("detail").hidden = true;
  $("sign-out").hidden = true;
  $("whoami").hidden = true;
  $("table").tHead.replaceChildren();
  $("table").tBodies[0].replaceChildren();
  $("record-form").replaceChildren();
  delete $("record-form").dataset.built;
  setLive("off", "offline");
  showSignIn(why);
}

function showSignIn(why) {
  $("sign-in").hidden = false;
  $("main").hidden = true;
  if (why) showMessage(why, "error");
  else clearMessage();
  $("token").focus();
}

// ---------------------------------------------------------------------------------------------
// Tabs, filters and lists.

function selectTab(tab) {
  state.tab = tab;
  for (const button of document.querySelectorAll("#tabs [data-tab]")) {
    const on = button.dataset.tab === tab;
    button.setAttribute("aria-selected", String(on));
    button.classList.toggle("on", on);
  }
  $("list").hidden = !tab;
  if (!tab) return;
  if (location.hash.slice(1) !== tab) history.replaceState(null, "", `#${tab}`);
  buildFilters(tab);
  buildRecordEditor();
  loadList();
}

function buildFilters(tab) {
  const form = $("filters");
  const params = listParams(tab);
  const takes = (name) => !params || params.has(name);
  const saved = state.filters[tab];
  const search = SEARCH_PARAMS[tab].find((name) => !params || params.has(name));
  const fields = [];
  if (search) {
    fields.push(h("label", {}, "Search",
      h("input", { type: "search", name: "q", value: saved.q ?? "", placeholder: search === "name" ? "name" : "domain", maxLength: 253 })));
  }
  if (takes("namespace")) {
    fields.push(h("label", {}, "Namespace",
      h("input", { type: "text", name: "namespace", value: saved.namespace ?? "", list: "namespaces", pattern: NAMESPACE_PATTERN, maxLength: 63 }),
      h("datalist", { id: "namespaces" }, knownNamespaces().map((ns) => h("option", { value: ns })))));
  }
  if (tab === "records" && params?.has("type")) {
    fields.push(h("label", {}, "Type", select("type", ["", ...RECORD_TYPES], saved.type ?? "", { "": "any" })));
  }
  if (takes("ready")) {
    fields.push(h("label", {}, "Ready", select("ready", ["", "True", "False", "Unknown"], saved.ready ?? "", { "": "any" })));
  }
  if (params?.has("reason")) {
    fields.push(h("label", {}, "Reason",
      h("input", { type: "text", name: "reason", value: saved.reason ?? "", pattern: "[A-Za-z][A-Za-z0-9]*", maxLength: 64, placeholder: "e.g. Pending" })));
  }
  const sort = params?.get("sort");
  if (sort?.options) {
    fields.push(h("label", {}, "Sort", select("sort", sort.options, saved.sort ?? sort.default ?? sort.options[0])));
    if (params.has("order")) fields.push(h("label", {}, "Order", select("order", ["asc", "desc"], saved.order ?? "asc")));
  }
  fields.push(
    h("button", { type: "submit" }, "Search"),
    h("button", { type: "button", className: "quiet", onclick: () => { state.filters[tab] = {}; buildFilters(tab); loadList(); } }, "Clear"),
  );
  form.replaceChildren(...fields);
  form.dataset.search = search ?? "";
}

function select(name, options, chosen, labels = {}) {
  return h("select", { name }, options.map((value) =>
    h("option", { value, selected: value === chosen }, labels[value] ?? value)));
}

function query(tab) {
  const saved = state.filters[tab];
  const params = listParams(tab);
  const search = $("filters").dataset.search;
  const found = {};
  if (saved.q && search) {
    found[search] = saved.q;
    if (!params || params.has(`${search}Match`)) found[`${search}Match`] = "contains";
  }
  for (const name of ["namespace", "type", "ready", "reason", "sort", "order"]) {
    if (saved[name] && (!params || params.has(name))) found[name] = saved[name];
  }
  return found;
}

const COLUMNS = {
  sites: [
    ["Site", (r) => nameCell("sites", r)],
    ["Domain", (r) => [r.primaryDomain, r.aliases?.length ? h("span", { className: "muted" }, ` +${r.aliases.length}`) : null]],
    ["Customer", (r) => r.customer ?? ""],
    ["Plan", (r) => r.plan ?? ""],
    ["Zone", (r) => r.zone ?? ""],
    ["Ready", (r) => readyBadge(r.ready), "ready-cell"],
  ],
  zones: [
    ["Zone object", (r) => nameCell("zones", r)],
    ["Zone", (r) => r.zoneName ?? ""],
    ["Backend", (r) => r.backend ?? "zone files"],
    ["Records", (r) => r.recordCount ?? "", "num"],
    ["Serial", (r) => r.serial ?? "", "num"],
    ["Ready", (r) => readyBadge(r.ready), "ready-cell"],
  ],
  records: [
    ["Record", (r) => nameCell("records", r)],
    ["Owner name", (r) => r.fqdn ?? (r.recordName && r.zone ? `${r.recordName} in ${r.zone}` : "")],
    ["Type", (r) => r.type ?? ""],
    ["TTL", (r) => r.ttl ?? "", "num"],
    ["Values", (r) => valueList(r.values)],
    ["Ready", (r) => readyBadge(r.ready), "ready-cell"],
    ["", (r) => (mayChange("dnsrecords", "delete", r.namespace, r.name) && offers("delete", `${API}/records/{}/{}`)
      ? h("button", { type: "button", className: "quiet danger", onclick: () => deleteRecord(r.namespace, r.name) }, "Delete")
      : null)],
  ],
};

function nameCell(tab, row) {
  return h("button", {
    type: "button",
    className: "link",
    title: `Show ${KINDS[tab].one} ${row.namespace}/${row.name}`,
    onclick: () => openDetail(tab, row.namespace, row.name),
  }, h("span", { className: "muted" }, `${row.namespace}/`), row.name);
}

function renderRow(tab, item) {
  return h("tr", { dataset: { key: keyOf(item.namespace, item.name), namespace: item.namespace, name: item.name } },
    COLUMNS[tab].map(([, cell, className]) => h("td", { className }, cell(item))));
}

function listNote(text) {
  $("list-note").textContent = text ?? "";
  $("list-note").hidden = !text;
}

async function loadList({ more = false } = {}) {
  const tab = state.tab;
  if (!tab) return;
  const seq = ++state.listSeq;
  const kind = KINDS[tab];
  const table = $("table");
  const path = `${API}/${kind.path}`;
  if (!more) {
    table.tHead.replaceChildren(h("tr", {}, COLUMNS[tab].map(([title]) => h("th", {}, title))));
  }
  if (!offers("get", path)) {
    showUnavailable(`The ${kind.label.toLowerCase()} list is not available on this server yet (no GET ${path}).`);
    return;
  }
  const params = { ...query(tab), limit: 50 };
  if (more && state.next) params.continue = state.next;
  let page;
  try {
    page = await api("GET", `/${kind.path}`, { query: params });
  } catch (error) {
    if (seq !== state.listSeq) return;
    if (error.status === 404) {
      showUnavailable(`The ${kind.label.toLowerCase()} list is not available on this server yet (GET ${path} answered 404).`);
    } else {
      showMessage(error.message);
    }
    return;
  }
  if (seq !== state.listSeq) return; // a newer load (another tab, other filters) won
  listNote(null);
  table.hidden = false;
  $("filters").hidden = false;
  const body = table.tBodies[0];
  if (!more) {
    body.replaceChildren();
    state.rows.clear();
  }
  for (const item of page?.items ?? []) {
    const row = renderRow(tab, item);
    const key = row.dataset.key;
    const old = state.rows.get(key);
    if (old) old.replaceWith(row);
    else body.append(row);
    state.rows.set(key, row);
  }
  state.next = page?.continue ?? null;
  $("more").hidden = !state.next;
  $("empty").hidden = state.rows.size > 0;
}

function showUnavailable(text) {
  state.rows.clear();
  $("filters").hidden = true;
  $("table").tBodies[0].replaceChildren();
  $("table").hidden = true;
  $("empty").hidden = true;
  $("more").hidden = true;
  listNote(text);
}

// One object's row again, from its detail (a superset of the summary): after a change event.
async function refreshRow(tab, namespace, name) {
  const key = keyOf(namespace, name);
  if (state.tab !== tab || !state.rows.has(key)) return;
  let item;
  try {
    item = await api("GET", `/${KINDS[tab].path}/${enc(namespace)}/${enc(name)}`);
  } catch (error) {
    if (error.status === 404) dropRow(key);
    return;
  }
  const row = state.rows.get(key);
  if (state.tab !== tab || !row) return;
  row.replaceChildren(...renderRow(tab, item).children); // the same row: a highlight or focus stays
}

function dropRow(key) {
  state.rows.get(key)?.remove();
  state.rows.delete(key);
  $("empty").hidden = state.rows.size > 0;
}

function later(key, ms, action) {
  clearTimeout(state.timers.get(key));
  state.timers.set(key, setTimeout(() => { state.timers.delete(key); action(); }, ms));
}

// ---------------------------------------------------------------------------------------------
// The detail view.

async function openDetail(tab, namespace, name) {
  state.detail = { tab, namespace, name };
  $("detail").hidden = false;
  $("detail-title").replaceChildren(
    h("span", { className: "muted" }, `${KINDS[tab].one} ${namespace}/`), name);
  $("detail-body").replaceChildren(h("p", { className: "hint" }, "Loading…"));
  await loadDetail();
}

function closeDetail() {
  state.detail = null;
  state.detailSeq += 1;
  $("detail").hidden = true;
}

async function loadDetail() {
  const shown = state.detail;
  if (!shown) return;
  const seq = ++state.detailSeq;
  const { tab, namespace, name } = shown;
  const base = `/${KINDS[tab].path}/${enc(namespace)}/${enc(name)}`;
  const [found, history] = await Promise.allSettled([
    api("GET", base),
    offers("get", `${API}/${KINDS[tab].path}/{}/{}/history`) ? api("GET", `${base}/history`) : Promise.reject(new ApiError(404, "")),
  ]);
  if (seq !== state.detailSeq) return;
  const body = $("detail-body");
  if (found.status === "rejected") {
    const error = found.reason;
    body.replaceChildren(h("p", { className: "hint" }, error.status === 404
      ? (offers("get", `${API}/${KINDS[tab].path}/{}/{}`)
        ? "No such object, or you may not see it."
        : `Details of ${KINDS[tab].label.toLowerCase()} are not available on this server yet.`)
      : error.message));
    return;
  }
  const item = found.value;
  const parts = [fields(tab, item)];
  if (gitops(namespace)) {
    parts.push(h("p", { className: "hint" },
      `Namespace ${namespace} is managed by Git: change this ${KINDS[tab].one} in its repository.`));
  }
  parts.push(...DETAILS[tab](item));
  parts.push(h("h3", {}, "History"));
  if (history.status === "fulfilled") {
    parts.push(historyTable(history.value?.items ?? []));
  } else {
    parts.push(h("p", { className: "hint" }, history.reason?.status === 404
      ? "History is not available on this server yet."
      : history.reason?.message ?? "History could not be read."));
  }
  body.replaceChildren(...parts);
}

function fields(tab, item) {
  const rows = {
    sites: [
      ["Primary domain", item.primaryDomain],
      ["Aliases", (item.aliases ?? []).join(", ")],
      ["Served at", item.serving ? [...(item.serving.ipv4 ?? []), ...(item.serving.ipv6 ?? []), item.serving.cname].filter(Boolean).join(", ") : ""],
      ["Customer", item.customer],
      ["Plan", item.plan],
      ["Zone", item.zone],
      ["Suspended", item.suspended ? "yes" : "no"],
      ["TTL", item.ttl],
      ["Generation", item.generation],
      ["Created", when(item.created)],
      ["Updated", when(item.updatedAt)],
    ],
    zones: [
      ["Zone", item.zoneName],
      ["Backend", item.backend ?? "zone files"],
      ["Serial", item.serial],
      ["Records", item.recordCount],
      ["Created", when(item.created)],
    ],
    records: [
      ["Zone", item.zone],
      ["Name", item.recordName],
      ["FQDN", item.fqdn],
      ["Type", item.type],
      ["TTL", item.ttl],
      ["Values", valueList(item.values)],
      ["Created", when(item.created)],
    ],
  }[tab];
  return h("dl", { className: "fields" },
    h("dt", {}, "Ready"),
    h("dd", {}, readyBadge(item.ready), item.ready?.message ? h("div", { className: "muted" }, item.ready.message) : null),
    rows.filter(([, value]) => value !== undefined && value !== null && value !== "").map(([label, value]) => [h("dt", {}, label), h("dd", {}, value)]),
  );
}

const DETAILS = {
  sites: (item) => {
    const parts = [h("h3", {}, "Domains"), table(["Domain", "Placement", "Publication", "Zone", "Served"],
      (item.domains ?? []).map((d) => [d.domain, d.placement, d.publication ?? "", d.zone ?? "", d.served ? "yes" : "no"]))];
    if (mayChange("sites", "update", item.namespace, item.name) && offers("put", `${API}/sites/{}/{}`)) {
      parts.unshift(h("div", { className: "actions" }, h("button", {
        type: "button",
        onclick: () => setSuspended(item, !item.suspended),
      }, item.suspended ? "Resume site" : "Suspend site")));
    }
    return parts;
  },
  zones: (item) => {
    const parts = [h("h3", {}, "Record sets"), table(["Name", "Type", "TTL", "Values", "From", "Applied", ""],
      (item.recordSets ?? []).map((s) => [s.name, s.type, s.ttl ?? "", valueList(s.values), owner(s.owner),
        s.appliedSerial ?? "", s.rejected ? h("span", { className: "badge bad", title: typeof s.rejected === "string" ? s.rejected : "" }, "rejected") : ""]))];
    if (recordNamespaces() === null || recordNamespaces().length) {
      parts.unshift(h("div", { className: "actions" }, h("button", {
        type: "button",
        onclick: () => {
          state.filters.records = {};
          selectTab("records");
          prefillRecord(item.zoneName, item.namespace);
        },
      }, "Add a record in this zone")));
    }
    return parts;
  },
  records: (item) => {
    if (mayChange("dnsrecords", "delete", item.namespace, item.name) && offers("delete", `${API}/records/{}/{}`)) {
      return [h("div", { className: "actions" }, h("button", {
        type: "button", className: "danger", onclick: () => deleteRecord(item.namespace, item.name),
      }, "Delete record"))];
    }
    return [];
  },
};

function owner(value) {
  if (!value) return "";
  if (typeof value !== "object") return String(value);
  return [value.kind, [value.namespace, value.name].filter(Boolean).join("/")].filter(Boolean).join(" ");
}

function table(headings, rows) {
  if (!rows.length) return h("p", { className: "hint" }, "None.");
  return h("table", { className: "table small" },
    h("thead", {}, h("tr", {}, headings.map((t) => h("th", {}, t)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((c) => h("td", {}, c))))));
}

function historyTable(items) {
  return table(["When", "Action", "Generation", "By", "Detail"], items.map((entry) => [
    when(entry.at),
    entry.action ?? "",
    entry.generation ?? "",
    typeof entry.author === "object" && entry.author ? entry.author.username ?? entry.author.user ?? JSON.stringify(entry.author) : entry.author ?? "",
    entry.detail === undefined || entry.detail === null ? "" : typeof entry.detail === "string" ? entry.detail : JSON.stringify(entry.detail),
  ]));
}

// ---------------------------------------------------------------------------------------------
// Changes, as the caller.

async function setSuspended(site, suspended) {
  const spec = {
    primaryDomain: site.primaryDomain,
    serving: Object.fromEntries(Object.entries(site.serving ?? {}).filter(([, v]) => v !== null && !(Array.isArray(v) && !v.length))),
    suspended,
  };
  if (site.aliases?.length) spec.aliases = site.aliases;
  for (const field of ["customer", "plan", "ttl"]) if (site[field] !== null && site[field] !== undefined) spec[field] = site[field];
  try {
    await api("PUT", `/sites/${enc(site.namespace)}/${enc(site.name)}`, { body: { name: site.name, spec } });
  } catch (error) {
    showMessage(error.message);
    return;
  }
  showMessage(`Site ${site.namespace}/${site.name} ${suspended ? "suspended" : "resumed"}; its DNS follows shortly.`, "ok");
  loadDetail();
}

async function deleteRecord(namespace, name) {
  if (!window.confirm(`Delete record ${namespace}/${name}? Its DNS records are withdrawn.`)) return;
  try {
    await api("DELETE", `/records/${enc(namespace)}/${enc(name)}`);
  } catch (error) {
    showMessage(error.message);
    return;
  }
  showMessage(`Record ${namespace}/${name} is being deleted; it goes once its DNS records are withdrawn.`, "ok");
}

function buildRecordEditor() {
  const section = $("record-editor");
  const namespaces = recordNamespaces();
  section.hidden = state.tab !== "records" || (namespaces !== null && !namespaces.length);
  if (section.hidden) return;
  const form = $("record-form");
  if (!offers("post", `${API}/records/{}`)) {
    form.replaceChildren(h("p", { className: "hint" }, "Adding records is not available on this server yet."));
    return;
  }
  if (form.dataset.built === "yes") return;
  form.dataset.built = "yes";
  const namespaceField = namespaces === null
    ? h("input", { id: "rf-namespace", type: "text", required: true, pattern: NAMESPACE_PATTERN, maxLength: 63, list: "rf-namespaces" })
    : h("select", { id: "rf-namespace", required: true }, namespaces.map((ns) => h("option", { value: ns }, ns)));
  const type = h("select", { id: "rf-type" }, RECORD_TYPES.map((t) => h("option", { value: t, selected: t === "TXT" }, t)));
  const values = h("textarea", { id: "rf-values", rows: 3, required: true, spellcheck: false });
  const hint = h("small", { id: "rf-hint", className: "muted" }, VALUE_HINTS.TXT);
  type.addEventListener("change", () => { hint.textContent = VALUE_HINTS[type.value]; });
  form.replaceChildren(
    h("label", {}, "Namespace", namespaceField),
    h("datalist", { id: "rf-namespaces" }, knownNamespaces().map((ns) => h("option", { value: ns }))),
    h("label", {}, "Object name", h("input", { id: "rf-name", type: "text", required: true, pattern: NAME_PATTERN, maxLength: 253, placeholder: "e.g. www-txt" })),
    h("label", {}, "Zone", h("input", { id: "rf-zone", type: "text", required: true, maxLength: 253, list: "rf-zones", placeholder: "example.com" })),
    h("datalist", { id: "rf-zones" }),
    h("label", {}, "Name in the zone", h("input", { id: "rf-record", type: "text", required: true, maxLength: 253, placeholder: "@, www, _dmarc" })),
    h("label", {}, "Type", type),
    h("label", {}, "TTL", h("input", { id: "rf-ttl", type: "number", min: 0, max: 2147483647, placeholder: "zone default" })),
    h("label", { className: "wide" }, "Values", values, hint),
    h("div", { className: "actions" },
      h("button", { id: "rf-check", type: "button", className: "quiet", onclick: () => submitRecord(true) }, "Check"),
      h("button", { id: "rf-submit", type: "submit" }, "Add record")),
  );
  loadZoneNames();
}

async function loadZoneNames() {
  if (!offers("get", `${API}/zones`) || !seesAny("dnszones")) return;
  try {
    const page = await api("GET", "/zones", { query: { limit: 500 } });
    const names = [...new Set((page?.items ?? []).map((z) => z.zoneName).filter(Boolean))].sort();
    $("rf-zones")?.replaceChildren(...names.map((zone) => h("option", { value: zone })));
  } catch {
    // Only suggestions: the field takes any zone name.
  }
}

function prefillRecord(zone, namespace) {
  const form = $("record-form");
  if (form.dataset.built !== "yes") return;
  $("rf-zone").value = zone ?? "";
  const field = $("rf-namespace");
  if (namespace && (field.tagName !== "SELECT" || [...field.options].some((o) => o.value === namespace))) field.value = namespace;
  $("rf-record").focus();
}

function parseValues(type, text) {
  const lines = text.split(/\r?\n/).map((line) => line.trim()).filter(Boolean);
  if (!lines.length) throw new Error("Give at least one value.");
  const words = (line, count) => {
    const parts = line.split(/\s+/);
    if (parts.length !== count) throw new Error(`"${line}" is not ${VALUE_HINTS[type]}`);
    return parts;
  };
  const number = (value, line) => {
    if (!/^\d+$/.test(value)) throw new Error(`"${line}": ${value} is not a number`);
    return Number(value);
  };
  switch (type) {
    case "CNAME":
      if (lines.length !== 1) throw new Error("A CNAME has exactly one target.");
      return lines[0];
    case "MX":
      return lines.map((line) => {
        const [preference, host] = words(line, 2);
        return { preference: number(preference, line), host };
      });
    case "SRV":
      return lines.map((line) => {
        const [priority, weight, port, target] = words(line, 4);
        return { priority: number(priority, line), weight: number(weight, line), port: number(port, line), target };
      });
    case "CAA":
      return lines.map((line) => {
        const match = /^(?:(\d+)\s+)?([a-z0-9]+)\s+"?(.*?)"?$/.exec(line);
        if (!match) throw new Error(`"${line}" is not ${VALUE_HINTS.CAA}`);
        const value = { tag: match[2], value: match[3] };
        if (match[1] !== undefined) value.flags = Number(match[1]);
        return value;
      });
    default:
      return lines;
  }
}

async function submitRecord(dryRun) {
  const form = $("record-form");
  if (!form.reportValidity()) return;
  const namespace = $("rf-namespace").value.trim();
  const name = $("rf-name").value.trim();
  const type = $("rf-type").value;
  const spec = { zone: $("rf-zone").value.trim(), name: $("rf-record").value.trim(), type };
  const ttl = $("rf-ttl").value.trim();
  if (ttl) spec.ttl = Number(ttl);
  try {
    spec[type.toLowerCase()] = parseValues(type, $("rf-values").value);
  } catch (error) {
    showMessage(error.message);
    return;
  }
  const buttons = form.querySelectorAll("button");
  for (const button of buttons) button.disabled = true;
  try {
    await api("POST", `/records/${enc(namespace)}`, { body: { name, spec }, query: dryRun ? { dryRun: "true" } : undefined });
  } catch (error) {
    showMessage(error.message);
    return;
  } finally {
    for (const button of buttons) button.disabled = false;
  }
  if (dryRun) {
    showMessage(`Record ${namespace}/${name} would be accepted.`, "ok");
    return;
  }
  showMessage(`Record ${namespace}/${name} added; it becomes Ready once its zone serves it.`, "ok");
  $("rf-name").value = "";
  $("rf-values").value = "";
  loadList();
}

// ---------------------------------------------------------------------------------------------
// Live updates: GET /api/v1/events read with fetch() (EventSource cannot send Authorization),
// resumed with Last-Event-ID after a break.

function setLive(mode, text) {
  const badge = $("live");
  badge.dataset.state = mode;
  badge.textContent = text ?? mode;
}

function stopStream() {
  state.stream?.controller.abort();
  state.stream = null;
}

function startStream() {
  stopStream();
  const stream = { controller: new AbortController(), attempts: 0, connected: false };
  state.stream = stream;
  runStream(stream);
}

function pause(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

async function runStream(stream) {
  const { signal } = stream.controller;
  while (state.stream === stream && !signal.aborted) {
    let unavailable = false;
    try {
      setLive(stream.connected ? "reconnecting" : "connecting", stream.connected ? "reconnecting…" : "connecting…");
      const headers = { Authorization: `Bearer ${state.token}`, Accept: "text/event-stream" };
      if (state.lastEventId !== null) headers["Last-Event-ID"] = state.lastEventId;
      const response = await fetch(`${API}/events`, { headers, signal, cache: "no-store", credentials: "omit" });
      if (response.status === 401) {
        signOut("The cluster no longer accepts your token; sign in again.");
        return;
      }
      if (response.status === 404 || response.status === 405) {
        unavailable = true;
        setLive("unavailable", "no live updates");
        $("live").title = "This server does not stream changes yet: lists show what was there when loaded.";
      } else if (!response.ok || !response.body) {
        throw new Error(`events answered ${response.status}`);
      } else {
        setLive("live", "live");
        $("live").title = "Changes appear as they happen";
        if (stream.connected) refreshShown(); // whatever a break may have hidden
        stream.connected = true;
        stream.attempts = 0;
        await readEvents(response.body, stream);
      }
    } catch {
      if (signal.aborted) return;
    }
    if (state.stream !== stream) return;
    if (!unavailable) setLive("reconnecting", "reconnecting…");
    const delay = unavailable ? 60000 : Math.min(30000, state.retryMs * 2 ** stream.attempts) * (0.8 + Math.random() * 0.4);
    stream.attempts = Math.min(stream.attempts + 1, 8);
    await pause(delay, signal);
  }
}

async function readEvents(body, stream) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event = { type: "", data: [], id: null };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done || state.stream !== stream) return;
      buffer += value;
      for (;;) {
        const end = buffer.search(/\r\n|\r|\n/);
        if (end < 0 || (buffer[end] === "\r" && end === buffer.length - 1)) break; // a \r\n may be split
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + (buffer.startsWith("\r\n", end) ? 2 : 1));
        if (line === "") {
          dispatch(event);
          event = { type: "", data: [], id: null };
          continue;
        }
        if (line.startsWith(":")) continue; // a keep-alive comment
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let data = colon < 0 ? "" : line.slice(colon + 1);
        if (data.startsWith(" ")) data = data.slice(1);
        if (field === "event") event.type = data;
        else if (field === "data") event.data.push(data);
        else if (field === "id" && !data.includes("\0")) event.id = data;
        else if (field === "retry" && /^\d+$/.test(data)) state.retryMs = Number(data);
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

function dispatch(event) {
  if (event.id !== null) state.lastEventId = event.id;
  if (!event.data.length || (event.type && event.type !== "change")) return;
  let change;
  try {
    change = JSON.parse(event.data.join("\n"));
  } catch {
    return;
  }
  if (change && typeof change === "object") applyChange(change);
}

function applyChange(change) {
  const tab = KIND_NAMES[String(change.kind ?? "").toLowerCase()];
  if (!tab || typeof change.namespace !== "string" || typeof change.name !== "string") return;
  state.liveEvents += 1;
  document.body.dataset.liveEvents = String(state.liveEvents);
  const key = keyOf(change.namespace, change.name);
  if (tab === state.tab) {
    const row = state.rows.get(key);
    if (row && change.deleted) {
      dropRow(key);
    } else if (row) {
      if (change.ready && typeof change.ready === "object") {
        const cell = row.querySelector("td.ready-cell");
        cell?.replaceChildren(readyBadge(change.ready));
      }
      row.classList.remove("changed");
      void row.offsetWidth; // restart the highlight
      row.classList.add("changed");
      later(`row:${tab}:${key}`, 300, () => refreshRow(tab, change.namespace, change.name));
    } else if (!change.deleted) {
      later("list", 400, () => { if (state.tab === tab) loadList(); });
    }
  }
  const shown = state.detail;
  if (shown && ((shown.tab === tab && keyOf(shown.namespace, shown.name) === key) || (shown.tab === "zones" && tab === "records"))) {
    if (shown.tab === tab && change.deleted && keyOf(shown.namespace, shown.name) === key) {
      $("detail-body").prepend(h("p", { className: "message info" }, "This object has been deleted."));
    } else {
      later("detail", 300, loadDetail);
    }
  }
}

function refreshShown() {
  loadList();
  if (state.detail) loadDetail();
}

// ---------------------------------------------------------------------------------------------
// Wiring.

function start() {
  $("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    if (token) signIn(token);
  });
  $("sign-out").addEventListener("click", () => signOut());
  $("message-close").addEventListener("click", clearMessage);
  $("detail-close").addEventListener("click", closeDetail);
  $("more").addEventListener("click", () => loadList({ more: true }));
  $("tabs").addEventListener("click", (event) => {
    const button = event.target.closest("[data-tab]");
    if (button) selectTab(button.dataset.tab);
  });
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    if (!form.reportValidity()) return;
    const values = {};
    for (const [name, value] of new FormData(form)) if (String(value).trim()) values[name] = String(value).trim();
    state.filters[state.tab] = values;
    loadList();
  });
  $("record-form").addEventListener("submit", (event) => {
    event.preventDefault();
    submitRecord(false);
  });
  window.addEventListener("hashchange", () => {
    const tab = location.hash.slice(1);
    const button = document.querySelector(`#tabs [data-tab="${CSS.escape(tab)}"]`);
    if (state.me && button && !button.hidden && tab !== state.tab) selectTab(tab);
  });
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) signIn(token);
  else showSignIn();
}

start();
