// Follows a contract's events and keeps following across node restarts (the subscription
// reconnects on its own). Usage: node --experimental-websocket follow.mjs TOKEN_ADDRESS
import { subscribe } from "@phalanx/client";

const url = (process.env.PHALANX_RPC ?? "http://127.0.0.1:8645").replace(/^http/, "ws") + "/ws";
const sub = subscribe(
  url,
  { topic: "events", address: process.argv[2] },
  (e) => console.log(`event ${e.topic} at height ${e.height} (connection ${sub.connections}): ${JSON.stringify(e.data)}`),
  (n) => console.log(`subscribed (connection ${n})`),
);
