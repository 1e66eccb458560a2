/**
 * WebSocket subscriptions (`subscribe` on the node's `/ws`) that reconnect: when the
 * connection drops, the subscription is made again after a back-off (0.5 s doubling to 8 s),
 * so a node restart costs the caller nothing but the notifications sent while it was away.
 * Uses the platform's `WebSocket` (browsers; Node.js 22, or 20 with
 * `--experimental-websocket`).
 */

/** What to subscribe to. */
export type Topic = { topic: "blocks" } | { topic: "events"; address?: string; topic_filter?: string };

/** A live subscription. */
export interface Subscription {
  /** Stops it (and any reconnecting). */
  close(): void;
  /** How many times it connected (1 until the first reconnect). */
  readonly connections: number;
}

/**
 * Subscribes to `topic` at `wsUrl` (`ws://host:port/ws`) and calls `onMessage` with each
 * notification's `result`, and `onConnect` each time the subscription is in place (again).
 */
export function subscribe(
  wsUrl: string,
  topic: Topic,
  onMessage: (result: any) => void,
  onConnect?: (connections: number) => void,
): Subscription {
  const WS = (globalThis as any).WebSocket;
  if (!WS) throw new Error("no WebSocket here (Node.js 20 needs --experimental-websocket)");
  let closed = false;
  let socket: any = null;
  let delay = 500;
  const state = { connections: 0 };
  const connect = () => {
    if (closed) return;
    socket = new WS(wsUrl);
    socket.onopen = () => {
      state.connections++;
      delay = 500;
      socket.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "subscribe", params: topic }));
    };
    socket.onmessage = (e: { data: string }) => {
      const m = JSON.parse(String(e.data));
      if (m.method === "subscription") onMessage(m.params.result);
      // The answer to `subscribe`: from here on, notifications flow.
      else if (m.id === 1 && m.result !== undefined) onConnect?.(state.connections);
    };
    socket.onclose = () => {
      if (closed) return;
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 8000);
    };
    socket.onerror = () => socket.close();
  };
  connect();
  return {
    close() {
      closed = true;
      socket?.close();
    },
    get connections() {
      return state.connections;
    },
  };
}
