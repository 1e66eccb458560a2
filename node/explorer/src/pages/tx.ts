// One transaction: what it did, its receipt, events, gas and error.

import type { api } from "../../../../sdk/ts/src/index.js";
import { rpc } from "../context.js";
import { type Child, fields, h, json, link, replace, table, to } from "../dom.js";

function payload(p: api.PayloadView): [string, Child][] {
  switch (p.type) {
    case "call":
      return [
        ["Contract", link(to.contract(p.contract), p.contract, { class: "mono" })],
        ["Method", p.method],
      ];
    case "instantiate":
      return [["Code", h("span", { class: "mono" }, p.code_hash)]];
    case "migrate":
      return [
        ["Contract", link(to.contract(p.contract), p.contract, { class: "mono" })],
        ["New code", h("span", { class: "mono" }, p.code_hash)],
        ["Brings the code", p.uploads_code ? "yes" : "no (stored before)"],
      ];
    case "set_admin":
      return [
        ["Contract", link(to.contract(p.contract), p.contract, { class: "mono" })],
        ["New admin", p.admin ?? "none (immutable from now on)"],
      ];
    case "governance":
      return [["Action", json(p.governance)]];
    default:
      return [];
  }
}

export async function tx(view: HTMLElement, hash: string, alive: () => boolean): Promise<void> {
  const found = await rpc.call("tx_get", { hash });
  if (!alive()) return;
  if (!found) {
    replace(
      view,
      h("h1", { tabindex: "-1" }, "Transaction"),
      h("p", { class: "error", role: "alert" }, `${hash} is in no committed block this node holds: it is pending, unknown, or pruned.`),
    );
    return;
  }
  const { tx: t, receipt: r } = found;
  const created = t.payload.type === "deploy" || t.payload.type === "instantiate";
  replace(
    view,
    h("h1", { tabindex: "-1" }, "Transaction"),
    fields([
      ["Hash", h("span", { class: "mono" }, t.hash)],
      [
        "Outcome",
        r
          ? h("strong", { id: "tx-status", class: r.status === "ok" ? "ok" : "bad" }, r.status === "ok" ? "succeeded" : "failed")
          : "receipt pruned",
      ],
      ["Block", r ? link(to.block(r.height), `${r.height} (index ${r.index})`) : "—"],
      ["Sender", link(to.account(t.sender), t.sender, { class: "mono" })],
      ["Nonce", t.nonce],
      ["Kind", t.payload.type],
      ...payload(t.payload),
      ["Gas", r ? `${r.gas_used} used of ${t.gas_limit}` : `limit ${t.gas_limit}`],
      ...(r?.error ? ([["Error", h("span", { class: "bad", id: "tx-error" }, `${r.error.code}: ${r.error.message}`)]] as [string, Child][]) : []),
      ...(r && created && r.status === "ok" && typeof r.return === "string"
        ? ([["Created contract", link(to.contract(r.return), r.return, { class: "mono" })]] as [string, Child][])
        : []),
    ]),
    r && !created && r.return !== null ? [h("h2", null, "Return value"), json(r.return)] : null,
    h("h2", null, `Events (${r?.events.length ?? 0})`),
    r && r.events.length
      ? h(
          "div",
          { id: "events" },
          table(
            "Events in the order the contracts emitted them",
            ["#", "Contract", "Topic", "Data"],
            r.events.map((e, i) => [i, link(to.contract(e.contract), e.contract.slice(0, 10) + "…"), e.topic, json(e.data)]),
          ),
        )
      : h("p", null, "No events."),
  );
}
