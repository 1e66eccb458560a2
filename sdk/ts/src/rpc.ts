/**
 * A JSON-RPC 2.0 client of a Phalanx node (docs/RPC.md), and reads checked by the light
 * client: a storage value is accepted only with a state proof under a header whose commit
 * certificate the validator set proven from genesis signed.
 */

import { equal, fromBase64, fromHex, toBase64, toHex } from "./bytes.js";
import { addressOf } from "./keys.js";
import {
  type Certificate,
  type Validator,
  VerifyError,
  checkSetProof,
  decodeHeader,
  headerHash,
  storageKey,
  validatorSetHash,
  verifyCertificate,
  verifyStateProof,
} from "./light.js";
import type { BatchResults, ContractView, Methods, Status, Submitted } from "./api.js";

/** The methods callable over HTTP (`subscribe` and `unsubscribe` are WebSocket-only). */
export type HttpMethods = Omit<Methods, "subscribe" | "unsubscribe">;
/** A method's parameters as arguments: optional when the method needs none. */
type ParamsArg<M extends keyof HttpMethods> = {} extends HttpMethods[M]["params"]
  ? [params?: HttpMethods[M]["params"]]
  : [params: HttpMethods[M]["params"]];
import { type SignedTx, txBase64 } from "./tx.js";

/** An error the node answered with. */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(`${message} (${code})`);
  }
}

/** A node's JSON-RPC endpoint. */
export class Client {
  private id = 0;

  /** `timeoutMs` bounds each request (connect and answer). */
  constructor(
    readonly url: string,
    readonly timeoutMs = 30_000,
  ) {}

  /**
   * Calls `method`; the result, or an {@link RpcError}. The node's methods are typed from its
   * OpenRPC document ({@link Methods}, src/api.ts); any other name is a plain call.
   */
  call<M extends keyof HttpMethods>(method: M, ...params: ParamsArg<M>): Promise<HttpMethods[M]["result"]>;
  call<T = unknown, N extends string = string>(method: N extends keyof Methods ? never : N, params?: unknown): Promise<T>;
  async call(method: string, params: unknown = {}): Promise<unknown> {
    const res = await fetch(this.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: ++this.id, method, params }),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const body = (await res.json()) as { result?: unknown; error?: { code: number; message: string } };
    if (body.error) throw new RpcError(body.error.code, body.error.message);
    return body.result;
  }

  /** Several calls in one request (JSON-RPC batch); each answer in order. */
  async batch(calls: { method: string; params?: unknown }[]): Promise<unknown[]> {
    const res = await fetch(this.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(
        calls.map((c, i) => ({ jsonrpc: "2.0", id: i, method: c.method, params: c.params ?? {} })),
      ),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const answers = (await res.json()) as { id: number; result?: unknown; error?: { code: number; message: string } }[];
    return calls.map((_, i) => {
      const a = answers.find((x) => x.id === i);
      if (!a) throw new Error(`no answer for call ${i}`);
      return a.error ? new RpcError(a.error.code, a.error.message) : a.result;
    });
  }

  /** `node_status`. */
  status(): Promise<Status> {
    return this.call("node_status", {});
  }

  /** The account's next nonce. */
  async nonce(address: Uint8Array): Promise<bigint> {
    const a = await this.call("account_get", { address: toHex(address) });
    return BigInt(a.nonce);
  }

  /**
   * Submits a signed transaction: `{hash}`, or with `wait: "final"` (the default)
   * `{hash, receipt}` once the block holding it is final.
   */
  submit(tx: SignedTx, wait: "none" | "final" = "final"): Promise<Submitted> {
    return this.call("tx_submit", { tx: txBase64(tx), wait });
  }

  /** Submits many at once (`tx_submitBatch`); each one's hash or error. */
  submitBatch(txs: SignedTx[]): Promise<BatchResults> {
    return this.call("tx_submitBatch", { txs: txs.map(txBase64) });
  }

  /** A read-only contract call (`contract_query`), at the latest or a retained height. */
  async query<T = unknown>(contract: Uint8Array, method: string, args?: unknown, height?: number): Promise<T> {
    const r = await this.call("contract_query", {
      address: toHex(contract),
      method,
      args: args ?? null,
      ...(height === undefined ? {} : { height }),
    });
    return r.result as T;
  }

  /** The contract record with its ABI (`contract_get`). */
  contract(address: Uint8Array, height?: number): Promise<ContractView> {
    return this.call("contract_get", { address: toHex(address), ...(height === undefined ? {} : { height }) });
  }
}

/** The validator set a genesis document (the JSON of `genesis.json`) starts with. */
export function genesisValidators(genesisJson: string): { chainId: string; set: Validator[] } {
  const g = JSON.parse(genesisJson) as { chain_id: string; validators: { public_key: string; peer_id: string }[] };
  if (typeof g.chain_id !== "string" || !Array.isArray(g.validators) || g.validators.length === 0) {
    throw new Error("not a genesis document: it needs chain_id and validators");
  }
  const set = g.validators.map((v) => {
    if (typeof v.public_key !== "string" || typeof v.peer_id !== "string" || v.peer_id === "") {
      throw new Error("a genesis validator needs public_key and peer_id");
    }
    const publicKey = fromHex(v.public_key, 32);
    return { address: addressOf(publicKey), publicKey, peerId: v.peer_id };
  });
  return { chainId: g.chain_id, set };
}

function certificateOf(v: any): Certificate {
  return {
    height: BigInt(v.height),
    view: BigInt(v.view),
    blockHash: fromHex(v.block_hash, 32),
    signatures: (v.signatures as any[]).map((s) => ({
      validator: fromHex(s.validator, 32),
      signature: fromHex(s.signature, 64),
    })),
  };
}

/**
 * The validator set that decides a block with `validatorsHash` at `height`, proven from
 * `genesisSet` across every applied change the node reports (hiding one only makes this fail).
 */
export async function provenSet(
  client: Client,
  chainId: string,
  genesisSet: Validator[],
  height: bigint,
  validatorsHash: Uint8Array,
): Promise<Validator[]> {
  let set = genesisSet;
  if (equal(validatorSetHash(set), validatorsHash)) return set;
  // Heights at which validator-set changes took over, as the node lists them (hiding one
  // makes the walk fail, unless a quorum of validators that were retired signs a fork: a
  // light client that trusts only genesis cannot tell; docs/WIRE.md, section 6).
  const activations: bigint[] = [];
  let fromId = 0;
  for (let pages = 0; ; pages++) {
    if (pages > 10_000) throw new VerifyError("the node's proposal list does not end");
    const page = await client.call("gov_proposals", { from_id: fromId });
    for (const p of page.proposals ?? []) {
      const changesSet = p.change?.type === "add_validator" || p.change?.type === "remove_validator";
      if (changesSet && p.status === "applied" && p.activates_at != null && BigInt(p.activates_at) <= height) {
        activations.push(BigInt(p.activates_at));
      }
    }
    const next = page.next_from_id;
    if (next === undefined || next === null) break;
    if (typeof next !== "number" || next <= fromId) throw new VerifyError("the node's proposal list goes backwards");
    fromId = next;
  }
  if (activations.length > 4096) throw new VerifyError("more set changes than a chain can have made");
  activations.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const h of [...new Set(activations)]) {
    const p = await client.call("chain_getValidatorSetProof", { height: Number(h) });
    set = checkSetProof(chainId, set, {
      height: h,
      configRaw: fromBase64(p.config_raw),
      proof: fromBase64(p.proof),
      headerRaw: fromBase64(p.header_raw),
      certificateRaw: fromBase64(p.certificate_raw),
    });
  }
  if (!equal(validatorSetHash(set), validatorsHash)) {
    throw new VerifyError("the validator set proven from genesis did not decide this block");
  }
  return set;
}

/** A contract storage value checked against genesis: what `phalanx verify` does. */
export interface Verified {
  /** The value (null: the key holds nothing). */
  value: Uint8Array | null;
  /** The height it was proven at. */
  height: bigint;
}

/**
 * Reads `contract`'s storage `key` with its proof and checks, trusting only `genesisSet`:
 * the proof against the header's state root, the header against the certificate, and the
 * certificate against the set proven from genesis. With `height`, the proof must be of that
 * height; without, the node chooses (it may answer with an older block: compare
 * `Verified.height` with what you expect).
 */
export async function verifiedRead(
  client: Client,
  genesis: { chainId: string; set: Validator[] },
  contract: Uint8Array,
  key: Uint8Array,
  height?: number,
): Promise<Verified> {
  const p = await client.call("state_getProof", {
    address: toHex(contract),
    key: toBase64(key),
    ...(height === undefined ? {} : { height }),
  });
  const header = decodeHeader(fromBase64(p.header_raw));
  if (header.chainId !== genesis.chainId) throw new VerifyError("the header is of another chain");
  if (height !== undefined && header.height !== BigInt(height)) {
    throw new VerifyError(`asked for height ${height}, the node proved ${header.height}`);
  }
  const cert = certificateOf(p.certificate);
  if (cert.height !== header.height || !equal(cert.blockHash, headerHash(header))) {
    throw new VerifyError("the certificate is for another block");
  }
  const set = await provenSet(client, genesis.chainId, genesis.set, header.height, header.validatorsHash);
  verifyCertificate(genesis.chainId, set, cert);
  const value = p.value === null ? null : fromBase64(p.value);
  verifyStateProof(header.stateRoot, storageKey(contract, key), value, fromBase64(p.proof));
  return { value, height: header.height };
}
