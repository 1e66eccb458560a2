// Search by height, block hash, transaction hash or address.

import { isNotFound, rpc } from "../context.js";
import { to } from "../dom.js";

/** Where `q` leads, or an explanation. */
export async function resolve(q: string): Promise<string | { error: string }> {
  const s = q.trim().toLowerCase().replace(/^0x/, "");
  if (/^\d+$/.test(s)) return to.block(s);
  if (!/^[0-9a-f]{64}$/.test(s)) {
    return { error: `"${q.trim()}" is not a height or a 64-digit hex hash or address.` };
  }
  if (await rpc.call("tx_get", { hash: s })) return to.tx(s);
  const block = await rpc.call("chain_getBlock", { hash: s }).catch((e) => {
    if (isNotFound(e)) return null;
    throw e;
  });
  if (block) return to.block(block.header.height);
  const contract = await rpc.call("contract_get", { address: s }).catch((e) => {
    if (isNotFound(e)) return null;
    throw e;
  });
  return contract ? to.contract(s) : to.account(s);
}
