// A contract: its record, its ABI with a form per query method, and its latest events.

import { type Abi, type AbiMethod, AbiError, type api, checkArgs } from "../../../../sdk/ts/src/index.js";
import { describe, rpc } from "../context.js";
import { fields, h, json, link, replace, table, to } from "../dom.js";

/** Heights searched for events, back from the latest. */
const EVENT_SPAN = 5_000;

/** The JSON value of a form field for an ABI type (`Option<T>` as `T`: an empty field of
 * an optional parameter is left out before this). */
function value(ty: string, text: string): unknown {
  const t = text.trim();
  const inner = /^Option<(.*)>$/.exec(ty);
  if (inner) return value(inner[1], text);
  if (/^(String|str|Address|Amount)$/.test(ty)) return t;
  if (/^[ui](8|16|32|64)$/.test(ty)) return t === "" ? NaN : Number(t);
  if (ty === "bool") return t === "true";
  try {
    return JSON.parse(t);
  } catch {
    return t;
  }
}

function queryForm(address: string, abi: Abi, m: AbiMethod): HTMLElement {
  const out = h("div", { "aria-live": "polite", class: "query-result" });
  const inputs = m.params.map((p) => {
    const id = `q-${m.name}-${p.name}`;
    const input =
      p.type === "bool"
        ? h("select", { id, name: p.name }, h("option", null, "false"), h("option", null, "true"))
        : h("input", { id, name: p.name, autocomplete: "off", spellcheck: "false", placeholder: p.type });
    return { p, input: input as HTMLInputElement, label: h("label", { for: id }, `${p.name} (${p.type})`, input) };
  });
  const form = h(
    "form",
    {
      class: "stack",
      "aria-label": `query ${m.name}`,
      "data-method": m.name,
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        const args: Record<string, unknown> = {};
        for (const { p, input } of inputs) {
          if (input.value.trim() === "" && p.type.startsWith("Option<")) continue;
          args[p.name] = value(p.type, input.value);
        }
        try {
          checkArgs(abi, m.name, args);
          const r = await rpc.call("contract_query", { address, method: m.name, args });
          replace(out, h("p", null, `Result (${r.gas_used} gas):`), json(r.result));
        } catch (e) {
          replace(out, h("p", { class: "error", role: "alert" }, e instanceof AbiError ? `Not sent: ${e.message}` : describe(e)));
        }
      },
    },
    h("strong", null, m.name),
    m.doc ? h("span", { class: "muted" }, m.doc) : null,
    inputs.map((i) => i.label),
    h("div", { class: "row" }, h("button", { type: "submit" }, "Query"), m.returns ? h("span", { class: "muted" }, `returns ${m.returns}`) : null),
    out,
  );
  return form;
}

/** Most heights one `events_get` call may span (the node's cap). */
const MAX_CALL_SPAN = 10_000;
/** Pages of 1,000 followed within one window, at most. */
const MAX_PAGES = 20;

export async function contract(view: HTMLElement, address: string, alive: () => boolean): Promise<void> {
  const c = await rpc.call("contract_get", { address });
  const status = await rpc.call("node_status");
  const floor = Math.max(1, status.earliest_height);
  // The newest events: windows growing back from the latest block until 25 are found, at
  // most EVENT_SPAN heights. Each window is read to its end (following the cursor), keeping
  // only its last 25, so a busy contract costs pages, not memory.
  const lowest = Math.max(floor, status.height - EVENT_SPAN + 1);
  let recent: api.LocatedEvent[] = [];
  let from = status.height + 1;
  let partial = false;
  for (let span = 20; recent.length < 25 && from > lowest; span *= 5) {
    const to_height = from - 1;
    from = Math.max(lowest, to_height - Math.min(span, MAX_CALL_SPAN) + 1);
    let window: api.LocatedEvent[] = [];
    let cursor: string | null = null;
    for (let pages = 0; ; pages++) {
      const page: api.EventsPage = await rpc.call("events_get", {
        from_height: from,
        to_height,
        address,
        limit: 1_000,
        ...(cursor ? { cursor } : {}),
      });
      window = [...window, ...page.events].slice(-25);
      cursor = page.next_cursor;
      if (!cursor) break;
      if (pages + 1 >= MAX_PAGES) {
        partial = true;
        break;
      }
    }
    // Ascending: the older window's events come first.
    recent = [...window, ...recent].slice(-25);
    if (partial) break;
  }
  recent = recent.reverse();
  const abi = c.abi as Abi | null;
  const queries = abi?.methods.filter((m) => m.kind === "query") ?? [];
  if (!alive()) return;
  replace(
    view,
    h("h1", { tabindex: "-1" }, abi ? `Contract ${abi.contract}` : "Contract"),
    fields([
      ["Address", h("span", { class: "mono" }, c.address)],
      ["Code hash", h("span", { class: "mono" }, c.code_hash)],
      ["Deployer", link(to.account(c.deployer), c.deployer, { class: "mono" })],
      ["Created at", link(to.block(c.height), `block ${c.height}`)],
      ["Admin", h("span", { id: "admin" }, c.admin ?? "none: the code can never change")],
      ["Account", link(to.account(c.address), "transactions and nonce")],
    ]),
    h("h2", null, "Methods"),
    abi
      ? table(
          `From the ABI the code embeds (version ${abi.phalanx_abi})`,
          ["Kind", "Method", "Parameters", "Returns"],
          abi.methods.map((m) => [m.kind, m.name, m.params.map((p) => `${p.name}: ${p.type}`).join(", ") || "—", m.returns || "—"]),
        )
      : h("p", null, "The code embeds no ABI: call it by method name and JSON (docs/CONTRACTS.md)."),
    queries.length ? [h("h2", null, "Read"), h("div", { id: "queries" }, queries.map((m) => queryForm(c.address, abi!, m)))] : null,
    h("h2", null, "Latest events"),
    recent.length
      ? h(
          "div",
          { id: "contract-events" },
          table(
            partial
              ? `The newest ${recent.length} of the first ${MAX_PAGES * 1000} events of blocks ${from} to ${status.height} (a busy contract: use events_get for the rest)`
              : `The newest ${recent.length} in blocks ${from} to ${status.height}`,
            ["Block", "Transaction", "Topic", "Data"],
            recent.map((e) => [link(to.block(e.height), e.height), link(to.tx(e.tx_hash), e.tx_hash.slice(0, 12) + "…", { class: "mono" }), e.topic, json(e.data)]),
          ),
        )
      : h("p", null, `No events in blocks ${from} to ${status.height}.`),
  );
}
