// The chain at a glance: height, view, block time and throughput, mempool, and the latest
// blocks arriving live.

import type { api } from "../../../../sdk/ts/src/index.js";
import { type Live, type Summary, errorBox, rpc, summarize } from "../context.js";
import { type Child, h, link, replace, short, sparkline, table, time, to } from "../dom.js";

/** Blocks shown in the table. */
const ROWS = 20;

function card(label: string, value: Child, extra?: Child): HTMLElement {
  return h("div", { class: "card" }, h("div", { class: "k" }, label), h("div", { class: "v" }, value), extra);
}

/** Block times (ms between consecutive blocks) and transactions per second, oldest first. */
function rates(blocks: Summary[]): { intervals: number[]; txs: number[]; tps: number; blockMs: number } {
  const asc = [...blocks].sort((a, b) => a.height - b.height);
  const intervals: number[] = [];
  for (let i = 1; i < asc.length; i++) {
    if (asc[i].height === asc[i - 1].height + 1) intervals.push(asc[i].time - asc[i - 1].time);
  }
  const span = asc.length > 1 ? (asc[asc.length - 1].time - asc[0].time) / 1000 : 0;
  const txs = asc.slice(1).reduce((n, b) => n + b.txs, 0);
  const blockMs = intervals.length ? intervals.reduce((a, b) => a + b, 0) / intervals.length : 0;
  return { intervals, txs: asc.map((b) => b.txs), tps: span > 0 ? txs / span : 0, blockMs };
}

export async function overview(view: HTMLElement, live: Live, alive: () => boolean): Promise<() => void> {
  let status: api.Status | null = null;
  let failure: unknown = null;
  const about = h("p", { class: "muted" });
  const problem = h("div");
  const cardsEl = h("div", { class: "cards" });
  const latest = h("div", { id: "latest-blocks" });
  replace(view, h("h1", { tabindex: "-1" }, "Chain overview"), about, problem, cardsEl, h("h2", null, "Latest blocks"), latest);
  const draw = () => {
    if (!alive()) return;
    const r = rates(live.blocks);
    replace(about, status ? `${status.chain_id} · node ${status.version} · blocks kept from height ${status.earliest_height}` : "");
    replace(problem, failure ? errorBox(failure) : null);
    replace(
      cardsEl,
      card("Height", Math.max(status?.height ?? 0, live.blocks[0]?.height ?? 0) || "—"),
      card("View", status ? `${status.view}${status.is_primary ? " (this node leads)" : ""}` : "—"),
      card("Validators", status?.validators ?? "—"),
      card("Peers", status?.peers ?? "—"),
      card("Mempool", status?.mempool ?? "—"),
      card(
        "Block time",
        r.blockMs ? `${(r.blockMs / 1000).toFixed(2)} s` : "—",
        sparkline(r.intervals, "block times of the latest blocks"),
      ),
      card("Transactions / s", r.tps.toFixed(1), sparkline(r.txs, "transactions per block of the latest blocks")),
    );
    // A reader tabbing through the table keeps their place: it is redrawn once they leave.
    if (latest.contains(document.activeElement)) return;
    const rows = live.blocks.slice(0, ROWS).map((b) => [
      link(to.block(b.height), b.height),
      time(b.time),
      b.failed ? `${b.txs} (${b.failed} failed)` : b.txs,
      link(to.account(b.proposer), short(b.proposer), { title: b.proposer }),
      link(to.block(b.hash), short(b.hash), { class: "mono", title: b.hash }),
    ]);
    replace(latest, table(`The ${rows.length} newest blocks, arriving live`, ["Height", "Time", "Txs", "Proposer", "Hash"], rows));
  };
  const poll = async () => {
    try {
      status = await rpc.call("node_status");
      failure = null;
    } catch (e) {
      failure = e;
    }
    draw();
  };
  await poll();
  // The first screen: the newest blocks before the feed brings more.
  // (`poll` set it; the compiler cannot see through the closure.)
  const first = status as api.Status | null;
  if (first && live.blocks.length < ROWS) {
    const top = first.height;
    const heights = Array.from({ length: Math.min(ROWS, top) }, (_, i) => top - i);
    try {
      const got = await rpc.batch(heights.map((height) => ({ method: "chain_getBlock", params: { height, omit_txs: true } })));
      live.seed(got.filter((b): b is api.BlockView => !!b && !(b instanceof Error)).map(summarize));
    } catch (e) {
      failure = e;
    }
  }
  draw();
  const stop = live.listen(draw);
  const timer = setInterval(poll, 3_000);
  return () => {
    stop();
    clearInterval(timer);
  };
}
