// `phalanx verify` in the browser: a contract storage value checked by the light client
// against a genesis file the reader provides (the node is not trusted for it).

import {
  VerifyError,
  fromHex,
  genesisValidators,
  toHex,
  utf8,
  verifiedRead,
} from "../../../../sdk/ts/src/index.js";
import { describe, rpc } from "../context.js";
import { h, replace } from "../dom.js";

export function proof(view: HTMLElement, params: URLSearchParams): void {
  const result = h("div", { id: "proof-result", "aria-live": "polite" });
  const field = (id: string, label: string, attrs: Record<string, string> = {}) => {
    const input = h("input", { id, name: id, autocomplete: "off", spellcheck: "false", ...attrs }) as HTMLInputElement;
    input.value = params.get(id) ?? "";
    return { input, label: h("label", { for: id }, label, input) };
  };
  const address = field("address", "Contract address (hex)");
  const key = field("key", "Storage key");
  const keyHex = h("input", { id: "key-hex", type: "checkbox" }) as HTMLInputElement;
  keyHex.checked = params.get("hex") === "1";
  const height = field("height", "Height (empty: the node's latest)", { inputmode: "numeric" });
  const file = h("input", { id: "genesis-file", type: "file", accept: ".json,application/json" }) as HTMLInputElement;
  const pasted = h("textarea", { id: "genesis-text", rows: "4", spellcheck: "false" }) as HTMLTextAreaElement;
  const form = h(
    "form",
    {
      class: "stack",
      "aria-label": "verify a storage value",
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        replace(result, h("p", null, "Checking…"));
        try {
          // Pasted text wins over a chosen file (the reader typed it last, or on purpose).
          const text = pasted.value.trim() ? pasted.value : ((await file.files?.[0]?.text()) ?? "");
          if (!text.trim()) throw new Error("Give the chain's genesis file: it is the one thing the check trusts.");
          const genesis = genesisValidators(text);
          const contract = fromHex(address.input.value.trim(), 32);
          const k = keyHex.checked ? fromHex(key.input.value.trim()) : utf8(key.input.value);
          const at = height.input.value.trim() === "" ? undefined : Number(height.input.value.trim());
          const v = await verifiedRead(rpc, genesis, contract, k, at);
          const shown = v.value === null ? "(absent: the proof shows the key holds nothing)" : new TextDecoder().decode(v.value);
          replace(
            result,
            h("p", null, h("span", { class: "badge ok", id: "proof-badge" }, `✔ Verified against genesis (${genesis.chainId})`)),
            h(
              "p",
              null,
              `At height ${v.height}: the Merkle proof matches the header's state root, and the header's commit certificate is signed by a quorum of the validator set proven from the genesis file. Value: `,
              h("code", { id: "proof-value" }, shown),
            ),
            v.value ? h("p", { class: "muted" }, `hex ${toHex(v.value)}`) : null,
          );
        } catch (e) {
          const why = e instanceof VerifyError ? `The node's answer does not check out: ${e.message}` : describe(e);
          replace(result, h("p", null, h("span", { class: "badge bad", id: "proof-badge" }, "✘ Not verified")), h("p", { class: "error", role: "alert" }, why));
        }
      },
    },
    address.label,
    key.label,
    h("label", { for: "key-hex", class: "row" }, keyHex, "The key is hex (otherwise its text is used as UTF-8)"),
    height.label,
    h("label", { for: "genesis-file" }, "Genesis file (the trusted input)", file),
    h("label", { for: "genesis-text" }, "…or paste the genesis JSON", pasted),
    h("div", { class: "row" }, h("button", { type: "submit" }, "Verify")),
  );
  replace(
    view,
    h("h1", { tabindex: "-1" }, "Verify a proof"),
    h(
      "p",
      null,
      "A contract storage value, checked in this browser the way ",
      h("code", null, "phalanx verify --genesis"),
      " checks it: the node's answers are not trusted, only the genesis file you give. (This page's script comes from the node too: for a check that trusts no node at all, run ",
      h("code", null, "phalanx verify --genesis"),
      " or the TypeScript client yourself.) A token balance's key is the byte ",
      h("code", null, "b"),
      " followed by the account's 32 address bytes: as hex, ",
      h("code", null, "62"),
      " and the address.",
    ),
    form,
    result,
  );
}
