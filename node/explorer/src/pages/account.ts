// An account: its next nonce and its committed transactions, newest first.

import { errorBox, isNotFound, rpc } from "../context.js";
import { fields, h, link, replace, short, table, to } from "../dom.js";

const PAGE = 25;

export async function account(view: HTMLElement, address: string, alive: () => boolean): Promise<void> {
  const contract = await rpc.call("contract_get", { address }).catch((e) => {
    if (isNotFound(e)) return null;
    throw e;
  });
  const first = await rpc.call("account_txs", { address, limit: PAGE });
  const list = h("tbody");
  const more = h("p");
  const add = (page: typeof first) => {
    for (const t of page.txs) {
      list.appendChild(
        h(
          "tr",
          null,
          h("td", null, t.nonce),
          h("td", null, link(to.tx(t.hash), short(t.hash, 14), { class: "mono", title: t.hash })),
          h("td", null, link(to.block(t.height), t.height)),
        ),
      );
    }
    more.replaceChildren();
    if (page.next_before !== null && page.txs.length > 0) {
      const before = page.next_before;
      more.appendChild(
        h(
          "button",
          {
            type: "button",
            onclick: async (ev: Event) => {
              const button = ev.target as HTMLButtonElement;
              button.disabled = true;
              try {
                add(await rpc.call("account_txs", { address, limit: PAGE, before_nonce: before }));
              } catch (e) {
                button.disabled = false;
                more.appendChild(errorBox(e));
              }
            },
          },
          "Older transactions",
        ),
      );
    }
  };
  if (!alive()) return;
  replace(
    view,
    h("h1", { tabindex: "-1" }, contract ? "Contract account" : "Account"),
    fields([
      ["Address", h("span", { class: "mono" }, address)],
      ["Next nonce (transactions sent)", h("span", { id: "nonce" }, first.nonce)],
      ...(contract ? ([["Contract", link(to.contract(address), "view the contract")]] as [string, HTMLElement][]) : []),
    ]),
    h("h2", null, "Transactions"),
    first.txs.length === 0
      ? h("p", null, first.nonce === 0 ? "This account has sent nothing." : "Its transactions are in blocks this node pruned (or did not index: blocks committed by a version before the index).")
      : h(
          "div",
          { class: "scroll", id: "account-txs" },
          h(
            "table",
            null,
            h("caption", null, "Sent by this account, newest first"),
            h("thead", null, h("tr", null, ["Nonce", "Hash", "Block"].map((c) => h("th", { scope: "col" }, c)))),
            list,
          ),
        ),
    more,
  );
  add(first);
}
