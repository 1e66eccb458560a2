// Against a live `phalanx dev` chain (run by node/tests/ts_sdk.rs, which sets the variables):
// deploy the token, transfer, see it over a subscription, and verify a balance with the
// genesis file as the only trusted input; a tampered proof and a forged certificate are
// refused. Skipped when PHALANX_RPC is not set.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import {
  AbiError,
  Client,
  Contract,
  Key,
  VerifyError,
  concat,
  contractAddress,
  fromHex,
  genesisValidators,
  jsonArgs,
  signTx,
  subscribe,
  toHex,
  utf8,
  verifiedRead,
} from "../src/index.js";

const env = process.env;
const live = env.PHALANX_RPC ? test : test.skip;

live("deploy, transfer, subscribe, and a balance proven from genesis", async () => {
  const rpc = new Client(env.PHALANX_RPC!);
  const key = Key.fromKeyFile(readFileSync(env.PHALANX_DEV_KEY!, "utf8"));
  const genesis = genesisValidators(readFileSync(env.PHALANX_GENESIS!, "utf8"));
  const status = await rpc.status();
  assert.equal(status.chain_id, genesis.chainId);
  // The node serves the document this package's types (src/api.ts) were generated from.
  const published = JSON.parse(readFileSync(new URL("../../../../docs/openrpc.json", import.meta.url), "utf8"));
  assert.deepEqual(await rpc.call("rpc.discover", {}), published, "docs/openrpc.json is what the node serves");
  const tx = async (payload: any, gasLimit = 200_000_000n) => {
    const signed = signTx(
      { chainId: genesis.chainId, sender: key.publicKey, nonce: await rpc.nonce(key.address), gasLimit, payload },
      key,
    );
    return { signed, receipt: (await rpc.submit(signed)).receipt! };
  };

  const nonce = await rpc.nonce(key.address);
  const init = { name: "Gold", symbol: "GLD", decimals: 2, supply: "1000000" };
  const { receipt: deployed } = await tx({
    type: "deploy",
    code: new Uint8Array(readFileSync(env.PHALANX_TOKEN_WASM!)),
    initArgs: jsonArgs(init),
    admin: null,
  });
  assert.equal(deployed.status, "ok", JSON.stringify(deployed));
  const token = contractAddress(key.address, nonce);
  assert.equal(deployed.return, toHex(token), "the address the library derives");
  const typed = await Contract.at(rpc, genesis.chainId, token);
  await assert.rejects(Contract.at(rpc, "another-chain", token), AbiError);
  assert.equal(typed.abi.contract, "Token");
  // Arguments are checked against the ABI before anything is signed.
  await assert.rejects(typed.query("balance_of", { acount: toHex(key.address) }), AbiError);
  await assert.rejects(typed.call(key, "transfer", { to: "xyz", amount: "1" }), AbiError);
  await assert.rejects(typed.call(key, "tranfser", {}), AbiError);
  assert.equal(await typed.query("balance_of", { account: toHex(key.address) }), "1000000");

  // Subscribe to the token's transfers, then transfer.
  const seen: any[] = [];
  const wsUrl = env.PHALANX_RPC!.replace(/^http/, "ws").replace(/\/?$/, "/ws");
  const sub = subscribe(wsUrl, { topic: "events", address: toHex(token), topic_filter: "transfer" }, (r) => seen.push(r));
  await new Promise((r) => setTimeout(r, 300));
  const to = Key.fromSeed(new Uint8Array(32).fill(9)).address;
  const { receipt } = await tx(
    { type: "call", contract: token, method: "transfer", args: jsonArgs({ to: toHex(to), amount: "250" }) },
    5_000_000n,
  );
  assert.equal(receipt.status, "ok", JSON.stringify(receipt));
  for (let i = 0; i < 50 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  sub.close();
  assert.equal(seen[0]?.data?.amount, "250", JSON.stringify(seen));
  assert.equal(await rpc.query(token, "balance_of", { account: toHex(to) }), "250");

  // The balance, proven: trusted input is the genesis file only.
  const balanceKey = concat(utf8("b"), to);
  const proven = await verifiedRead(rpc, genesis, token, balanceKey);
  assert.equal(new TextDecoder().decode(proven.value!), '"250"');
  const nobody = await verifiedRead(rpc, genesis, token, concat(utf8("b"), new Uint8Array(32).fill(7)));
  assert.equal(nobody.value, null, "an absent balance is proven absent");

  // A node that lies: a tampered proof, a forged certificate, another chain's genesis.
  const lying = (edit: (method: string, result: any) => void) =>
    new (class extends Client {
      async call<T>(method: string, params: unknown = {}): Promise<T> {
        const r: any = await super.call(method, params);
        edit(method, r);
        return r as T;
      }
    })(env.PHALANX_RPC!);
  const flip = (b64: string) => {
    const b = Buffer.from(b64, "base64");
    b[b.length - 1] ^= 1;
    return b.toString("base64");
  };
  const tampered = lying((m, r) => {
    if (m === "state_getProof") r.proof = flip(r.proof);
  });
  await assert.rejects(verifiedRead(tampered, genesis, token, balanceKey), VerifyError);
  const wrongValue = lying((m, r) => {
    if (m === "state_getProof") r.value = Buffer.from('"999999"').toString("base64");
  });
  await assert.rejects(verifiedRead(wrongValue, genesis, token, balanceKey), VerifyError);
  const forged = lying((m, r) => {
    if (m === "state_getProof") {
      const s = r.certificate.signatures[0];
      s.signature = toHex(fromHex(s.signature).map((x, i) => (i === 0 ? x ^ 1 : x)));
    }
  });
  await assert.rejects(verifiedRead(forged, genesis, token, balanceKey), VerifyError);
  // Asked for one height, proven at another: refused.
  const older = Number(proven.height) - 1;
  const moved = new (class extends Client {
    async call<T>(method: string, params: any = {}): Promise<T> {
      if (method === "state_getProof") params = { ...params, height: older };
      return super.call<T>(method, params);
    }
  })(env.PHALANX_RPC!);
  await assert.rejects(verifiedRead(moved, genesis, token, balanceKey, Number(proven.height)), VerifyError);
  const stranger = { chainId: genesis.chainId, set: [{ ...genesis.set[0], publicKey: key.publicKey, address: key.address }] };
  await assert.rejects(verifiedRead(rpc, stranger, token, balanceKey), VerifyError);
});
