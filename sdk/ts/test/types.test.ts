// Compile-time checks of the typed JSON-RPC client: `npm run build` fails if a call marked
// as an expected error below stops being one. Nothing here runs.
import { Client } from "../src/index.js";

export async function typedCalls(rpc: Client): Promise<unknown[]> {
  // @ts-expect-error a misspelt parameter
  await rpc.call("tx_submit", { tx: "AA==", wiat: "final" });
  // @ts-expect-error a required parameter left out
  await rpc.call("tx_get");
  // @ts-expect-error WebSocket-only
  await rpc.call("subscribe", { topic: "blocks" });
  const status = await rpc.call("node_status");
  const height: number = status.height;
  const found = await rpc.call("tx_get", { hash: "00".repeat(32) });
  const other = await rpc.call<{ a: number }>("a_method_of_another_version", {});
  return [height, found?.receipt?.status, other.a];
}
