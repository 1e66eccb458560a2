// The explorer: a small single-page app over the node's public JSON-RPC and WebSocket API,
// served by the node at /explorer. Pages are addressed by the URL's fragment (#/block/12).

import { Live, describe, errorBox, rpc } from "./context.js";
import { h, replace } from "./dom.js";
import { account } from "./pages/account.js";
import { block } from "./pages/block.js";
import { contract } from "./pages/contract.js";
import { overview } from "./pages/overview.js";
import { proof } from "./pages/proof.js";
import { resolve } from "./pages/search.js";
import { tx } from "./pages/tx.js";
import { validators } from "./pages/validators.js";

const view = document.getElementById("view")!;
const banner = document.getElementById("banner")!;
const conn = document.getElementById("conn")!;
const chain = document.getElementById("chain")!;

const live = new Live((connected) => {
  conn.textContent = connected ? "live: new blocks arrive over the WebSocket" : "reconnecting…";
});

/** Bumped on every navigation: a page that finishes loading after the reader moved on
 * draws nothing. */
let generation = 0;
let leave: (() => void) | null = null;

const HEX = "([0-9a-f]{64})";
const routes: [RegExp, (m: RegExpMatchArray, alive: () => boolean) => Promise<void | (() => void)> | void][] = [
  [/^\/?$/, (_, alive) => overview(view, live, alive)],
  [/^\/validators$/, (_, alive) => validators(view, alive)],
  [new RegExp(`^/block/(\\d+|${HEX.slice(1, -1)})$`), (m, alive) => block(view, m[1], alive)],
  [new RegExp(`^/tx/${HEX}$`), (m, alive) => tx(view, m[1], alive)],
  [new RegExp(`^/account/${HEX}$`), (m, alive) => account(view, m[1], alive)],
  [new RegExp(`^/contract/${HEX}$`), (m, alive) => contract(view, m[1], alive)],
  [/^\/proof(?:\?(.*))?$/, (m) => proof(view, new URLSearchParams(m[1] ?? ""))],
];

async function route(): Promise<void> {
  const mine = ++generation;
  const alive = () => mine === generation;
  leave?.();
  leave = null;
  // The fragment as it is: a page's query string is decoded by the page.
  const path = location.hash.replace(/^#/, "") || "/";
  replace(view, h("p", { "aria-busy": "true" }, "Loading…"));
  const found = routes.find(([re]) => re.test(path));
  try {
    if (!found) throw new Error(`No page at ${path.slice(0, 80)}.`);
    const done = await found[1](path.match(found[0])!, alive);
    if (typeof done === "function") {
      if (alive()) leave = done;
      else done();
    }
  } catch (e) {
    if (alive()) replace(view, h("h1", { tabindex: "-1" }, "Not available"), errorBox(e));
  }
  if (alive()) (view.querySelector("h1") as HTMLElement | null)?.focus({ preventScroll: true });
}

/** Leaves the page shown for one drawn here (search results): its updates stop. */
function takeOver(): () => boolean {
  const mine = ++generation;
  leave?.();
  leave = null;
  return () => mine === generation;
}

document.getElementById("search")!.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const input = document.getElementById("q") as HTMLInputElement;
  const q = input.value;
  if (!q.trim()) return;
  try {
    const where = await resolve(q);
    if (typeof where === "string") {
      input.value = "";
      location.hash = where;
    } else {
      takeOver();
      replace(view, h("h1", { tabindex: "-1" }, "Search"), h("p", { class: "error", role: "alert" }, where.error));
    }
  } catch (e) {
    takeOver();
    replace(view, h("h1", { tabindex: "-1" }, "Search"), errorBox(e));
  }
});

/** The node's reachability, every few seconds: a banner while it is down. */
async function watch(): Promise<void> {
  try {
    const s = await rpc.call("node_status");
    chain.textContent = `chain ${s.chain_id} · height ${s.height}${s.syncing ? " · syncing" : ""}`;
    if (!banner.hidden) {
      banner.hidden = true;
      // A page that failed while the node was down is worth another try (one that loaded,
      // perhaps with a half-filled form, is left alone).
      if (view.querySelector(".error")) void route();
    }
  } catch (e) {
    banner.textContent = `${describe(e)} Retrying…`;
    banner.hidden = false;
    conn.textContent = "node unreachable";
  }
}

window.addEventListener("hashchange", () => void route());
// "Skip to content" moves focus; it must not change the fragment the pages live in.
document.querySelector(".skip")?.addEventListener("click", (ev) => {
  ev.preventDefault();
  view.focus();
});
void route();
void watch();
setInterval(watch, 3_000);
