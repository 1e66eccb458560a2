// One block: header, certificate signers, and its transactions.

import type { api } from "../../../../sdk/ts/src/index.js";
import { rpc } from "../context.js";
import { fields, h, link, replace, short, table, time, to } from "../dom.js";

/** Transactions listed, and of those, looked up (sender, kind, outcome). */
const LIST = 200;
const DETAIL = 50;

function kind(p: api.PayloadView): string {
  switch (p.type) {
    case "call":
      return `call ${p.method}`;
    case "governance":
      return `governance ${p.governance.action}`;
    default:
      return p.type;
  }
}

export async function block(view: HTMLElement, id: string, alive: () => boolean): Promise<void> {
  const b = /^\d+$/.test(id)
    ? await rpc.call("chain_getBlock", { height: Number(id) })
    : await rpc.call("chain_getBlock", { hash: id });
  const hd = b.header;
  const shown = b.txs.slice(0, LIST);
  const details = shown.length
    ? await rpc.batch(shown.slice(0, DETAIL).map((hash) => ({ method: "tx_get", params: { hash } })))
    : [];
  const set = await rpc.call("chain_getValidators", { height: hd.height }).catch(() => null);
  const cert = b.certificate;
  const rows = shown.map((hash, i) => {
    const d = details[i] as api.TxWithReceipt | null | Error | undefined;
    const t = d && !(d instanceof Error) ? d : null;
    return [
      i,
      link(to.tx(hash), short(hash, 12), { class: "mono", title: hash }),
      t ? link(to.account(t.tx.sender), short(t.tx.sender)) : "",
      t ? kind(t.tx.payload) : "",
      t?.receipt ? h("span", { class: t.receipt.status === "ok" ? "ok" : "bad" }, t.receipt.status) : "",
      t?.receipt?.gas_used ?? "",
    ];
  });
  if (!alive()) return;
  replace(
    view,
    h("h1", { tabindex: "-1" }, `Block ${hd.height}`),
    h(
      "p",
      null,
      hd.height > 1 ? link(to.block(hd.height - 1), "← previous") : null,
      " ",
      link(to.block(hd.height + 1), "next →"),
    ),
    fields([
      ["Height", hd.height],
      ["Hash", h("span", { class: "mono", id: "block-hash" }, hd.hash)],
      ["Parent", hd.height > 1 ? link(to.block(hd.parent), hd.parent, { class: "mono" }) : h("span", { class: "mono" }, hd.parent)],
      ["Time", `${time(hd.time)} (${hd.time})`],
      ["Proposer", link(to.account(hd.proposer), hd.proposer, { class: "mono" })],
      ["State root", h("span", { class: "mono", id: "state-root" }, hd.state_root)],
      ["Transactions root", h("span", { class: "mono" }, hd.tx_root)],
      ["Receipts root", h("span", { class: "mono" }, hd.receipts_root)],
      ["Validator set hash", h("span", { class: "mono" }, hd.validators_hash)],
      ["Chain", hd.chain_id],
    ]),
    h("h2", null, "Commit certificate"),
    cert
      ? [
          h(
            "p",
            null,
            `Final in view ${cert.view}, signed by ${cert.signatures.length}`,
            set ? ` of ${set.length} validators.` : " validators.",
          ),
          h(
            "ul",
            { id: "signers" },
            cert.signatures.map((s) => h("li", null, link(to.account(s.validator), s.validator, { class: "mono" }))),
          ),
        ]
      : h("p", null, "This node holds no certificate for this block."),
    h("h2", null, `Transactions (${b.tx_count})`),
    b.txs.length === 0
      ? h("p", null, "No transactions.")
      : table(
          b.txs.length > LIST ? `The first ${LIST} of ${b.txs.length}` : `All ${b.txs.length}, in block order`,
          ["#", "Hash", "Sender", "Kind", "Outcome", "Gas used"],
          rows,
        ),
  );
}
