// DOM helpers. Everything from the node is inserted as text (never as HTML), so a hostile
// contract's event data or a node's answer cannot inject markup.

/** What an element may contain. */
export type Child = Node | string | number | bigint | null | undefined | false | Child[];

/** Attributes: `on*` are listeners, `false`/`undefined` are left out. */
export type Attrs = Record<string, string | number | boolean | undefined | ((e: Event) => void)>;

/** Builds an element. */
export function h(tag: string, attrs: Attrs | null = null, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === false) continue;
    if (typeof v === "function") el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el: HTMLElement, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Replaces `el`'s children. */
export function replace(el: HTMLElement, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A link inside the app. */
export function link(href: string, text: Child, attrs: Attrs = {}): HTMLElement {
  return h("a", { href, ...attrs }, text);
}

/** A hash or address, shortened for tables (the full value in the title). */
export function short(hex: string, n = 10): string {
  return hex.length > 2 * n ? `${hex.slice(0, n)}…${hex.slice(-4)}` : hex;
}

/** Links to the explorer's pages. */
export const to = {
  block: (h: number | string) => `#/block/${h}`,
  tx: (hash: string) => `#/tx/${hash}`,
  account: (a: string) => `#/account/${a}`,
  contract: (a: string) => `#/contract/${a}`,
};

/** A definition list of `[label, value]` pairs. */
export function fields(rows: [string, Child][]): HTMLElement {
  return h("dl", { class: "fields" }, rows.map(([k, v]) => [h("dt", null, k), h("dd", null, v)]));
}

/** A table with a caption and a header row; rows of cells. */
export function table(caption: string, head: string[], rows: Child[][]): HTMLElement {
  return h(
    "div",
    { class: "scroll" },
    h(
      "table",
      null,
      h("caption", null, caption),
      h("thead", null, h("tr", null, head.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", null, rows.map((r) => h("tr", null, r.map((c) => h("td", null, c))))),
    ),
  );
}

/** JSON, indented, as text. */
export function json(v: unknown): HTMLElement {
  return h("pre", null, JSON.stringify(v, null, 2) ?? "null");
}

/** A time in ms since the epoch, readable. */
export function time(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace("Z", " UTC");
}

/** A tiny line chart of `values` (an SVG sparkline), labelled for screen readers. */
export function sparkline(values: number[], label: string): Element {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 100 30");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  if (values.length > 1) {
    const max = Math.max(...values, 1e-9);
    const pts = values.map((v, i) => `${((i / (values.length - 1)) * 100).toFixed(1)},${(29 - (v / max) * 28).toFixed(1)}`);
    const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    line.setAttribute("points", pts.join(" "));
    svg.appendChild(line);
  }
  return svg;
}
