// What every page shares: the node's JSON-RPC client, the live block feed, and how errors
// are shown.

import { Client, RpcError, subscribe } from "../../../sdk/ts/src/index.js";
import type { api } from "../../../sdk/ts/src/index.js";
import { h } from "./dom.js";

/** The node that served this page. */
export const rpc = new Client(`${location.origin}/`, 15_000);
/** Its WebSocket. */
export const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;

/** The block-pruned and not-found codes (docs/RPC.md, "Errors"). */
const PRUNED = -32021;
const NOT_FOUND = -32020;

/** True if `e` is the node saying the thing does not exist. */
export function isNotFound(e: unknown): boolean {
  return e instanceof RpcError && e.code === NOT_FOUND;
}

/** What went wrong, for a person. */
export function describe(e: unknown): string {
  if (e instanceof RpcError) {
    if (e.code === PRUNED) return `Pruned: this node no longer keeps that height. ${e.message}`;
    return `The node answered: ${e.message}`;
  }
  // What fetch throws when nothing answers (its message differs between browsers).
  const unreachable =
    (e instanceof TypeError && /fetch|network|load failed/i.test(e.message)) ||
    (e instanceof DOMException && (e.name === "TimeoutError" || e.name === "AbortError"));
  if (unreachable) {
    return `Cannot reach the node at ${location.host} (${(e as Error).message}). It may be down or restarting.`;
  }
  return e instanceof Error ? e.message : String(e);
}

/** An error box. */
export function errorBox(e: unknown): HTMLElement {
  return h("p", { class: "error", role: "alert" }, describe(e));
}

/** A block as the overview keeps it. */
export interface Summary {
  height: number;
  hash: string;
  time: number;
  txs: number;
  failed: number;
  proposer: string;
}

export function summarize(b: api.BlockView | api.NewBlock): Summary {
  const ok = "ok" in b ? b.ok : [];
  return {
    height: b.header.height,
    hash: b.header.hash,
    time: b.header.time,
    txs: b.tx_count,
    failed: ok.filter((x) => !x).length,
    proposer: b.header.proposer,
  };
}

/** Most blocks the live feed keeps. */
export const KEEP = 60;
/** How often the pages hear about new blocks, at most (ms): a chain at thousands of tx/s
 * must not make the page redraw on every message. */
const FLUSH_MS = 250;

type Listener = () => void;

/**
 * The newest blocks over the WebSocket (reconnecting), newest first, at most {@link KEEP};
 * listeners hear about changes at most every {@link FLUSH_MS}.
 */
export class Live {
  readonly blocks: Summary[] = [];
  connected = false;
  private pending: Summary[] = [];
  private listeners = new Set<Listener>();

  constructor(private onState: (connected: boolean) => void) {
    subscribe(
      wsUrl,
      { topic: "blocks" },
      (b: api.NewBlock) => this.pending.push(summarize(b)),
      () => this.setConnected(true),
    );
    setInterval(() => this.flush(), FLUSH_MS);
  }

  private setConnected(c: boolean) {
    this.connected = c;
    this.onState(c);
  }

  /** Adds blocks fetched another way (the first screen). */
  seed(blocks: Summary[]) {
    this.pending.push(...blocks);
    this.flush();
  }

  private flush() {
    if (this.pending.length === 0) return;
    const known = new Set(this.blocks.map((b) => b.height));
    for (const b of this.pending.splice(0)) if (!known.has(b.height)) this.blocks.push(b);
    this.blocks.sort((a, b) => b.height - a.height);
    this.blocks.splice(KEEP);
    for (const l of this.listeners) l();
  }

  /** Calls `l` after each change until the returned function is called. */
  listen(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}
