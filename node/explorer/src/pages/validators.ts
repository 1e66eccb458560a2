// The validator set, who signed the latest commit certificates, and stored evidence.

import type { api } from "../../../../sdk/ts/src/index.js";
import { rpc } from "../context.js";
import { h, link, replace, short, table, to } from "../dom.js";

/** Certificates looked at. */
const RECENT = 20;

export async function validators(view: HTMLElement, alive: () => boolean): Promise<void> {
  const [set, gov, status, evidence] = await Promise.all([
    rpc.call("chain_getValidators", {}),
    rpc.call("gov_proposals", { limit: 1 }),
    rpc.call("node_status"),
    rpc.call("evidence_list", {}),
  ]);
  const top = status.height;
  const from = Math.max(status.earliest_height, top - RECENT + 1, 1);
  const heights = top >= from ? Array.from({ length: top - from + 1 }, (_, i) => top - i) : [];
  const answers = heights.length
    ? await rpc.batch(heights.map((height) => ({ method: "chain_getBlock", params: { height, omit_txs: true } })))
    : [];
  const blocks = answers.filter((b): b is api.BlockView => !!b && !(b instanceof Error));
  const signed = (b: api.BlockView, address: string) =>
    b.certificate?.signatures.some((s) => s.validator === address) ?? false;
  const quorum = gov.quorum ?? Math.floor((2 * set.length) / 3) + 1;

  const rows = set.map((v, i) => {
    const count = blocks.filter((b) => signed(b, v.address)).length;
    const last = blocks.find((b) => signed(b, v.address))?.header.height;
    return [
      i,
      link(to.account(v.address), short(v.address, 12), { title: v.address, class: "mono" }),
      h("span", { class: "mono", title: v.peer_id }, short(v.peer_id, 12)),
      "1",
      h("span", { class: count === 0 && blocks.length > 0 ? "bad" : undefined }, `${count} of ${blocks.length}`),
      last === undefined ? "—" : link(to.block(last), last),
    ];
  });
  // Heights × validators: a mark where the validator's COMMIT is in the certificate.
  const grid = h(
    "div",
    { class: "scroll" },
    h(
      "table",
      { class: "grid-sig" },
      h("caption", null, "Signers of the latest certificates (a certificate holds a quorum; a missing mark is a signature that did not make it in)"),
      h("thead", null, h("tr", null, h("th", { scope: "col" }, "Height"), set.map((_, i) => h("th", { scope: "col" }, `#${i}`)))),
      h(
        "tbody",
        null,
        blocks.map((b) =>
          h(
            "tr",
            null,
            h("th", { scope: "row" }, link(to.block(b.header.height), b.header.height)),
            set.map((v, i) =>
              signed(b, v.address)
                ? h("td", { class: "s ok", "aria-label": `validator ${i} signed` }, "✓")
                : h("td", { class: "s muted", "aria-label": `validator ${i} not in the certificate` }, "·"),
            ),
          ),
        ),
      ),
    ),
  );
  if (!alive()) return;
  replace(
    view,
    h("h1", { tabindex: "-1" }, "Validators"),
    h(
      "p",
      null,
      `${set.length} ${set.length === 1 ? "validator" : "validators"} with one vote each; a block is final with ${quorum} COMMIT signatures (2f+1). `,
      gov.scheduled ? `A change to ${gov.scheduled.validators.length} validators applies at height ${gov.scheduled.activates_at}.` : "",
    ),
    table("The set deciding the next block, in primary order", ["#", "Address", "Peer id", "Voting power", `In the last ${blocks.length} certificates`, "Last signed"], rows),
    h("h2", null, "Recent certificates"),
    grid,
    h("h2", null, "Evidence"),
    evidence.length === 0
      ? h("p", { id: "evidence" }, "No equivocation evidence stored.")
      : table(
          "Equivocation evidence this node stored",
          ["Height", "Offender", "Phase", "View"],
          evidence.map((e) => [link(to.block(e.height), e.height), link(to.account(e.offender), short(e.offender)), e.phase, e.view]),
        ),
  );
}
