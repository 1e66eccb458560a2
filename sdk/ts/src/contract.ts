/**
 * Contract calls from the contract's ABI (docs/CONTRACTS.md, "The ABI"): the methods, their
 * kinds and parameter types come from `contract_get`, and arguments are checked against them
 * before anything is signed; an error names the field.
 */

import { fromHex, toHex } from "./bytes.js";
import { Key } from "./keys.js";
import { Client } from "./rpc.js";
import { type SignedTx, jsonArgs, signTx } from "./tx.js";
import type { ReceiptView } from "./api.js";

/** A method as the ABI describes it. */
export interface AbiMethod {
  name: string;
  kind: "init" | "call" | "query" | "migrate";
  params: { name: string; type: string }[];
  returns: string;
  doc?: string;
}

/** An ABI document, version 1. */
export interface Abi {
  phalanx_abi: number;
  contract: string;
  methods: AbiMethod[];
  errors: { name: string; code: number; message: string }[];
  events: { topic: string; type: string; fields?: { name: string; type: string }[] }[];
}

/** Arguments that do not fit the ABI. */
export class AbiError extends Error {}

function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if ("<([".includes(c)) depth++;
    else if (">)]".includes(c)) depth--;
    else if (c === "," && depth === 0) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  if (start < s.length) out.push(s.slice(start));
  return out;
}

const INTS: Record<string, [bigint, bigint]> = {
  u8: [0n, 255n],
  u16: [0n, 65535n],
  u32: [0n, 4294967295n],
  u64: [0n, 18446744073709551615n],
  i8: [-128n, 127n],
  i16: [-32768n, 32767n],
  i32: [-2147483648n, 2147483647n],
  i64: [-9223372036854775808n, 9223372036854775807n],
};

/** Checks one JSON value against an ABI type (the SDK's types exactly; others not). */
export function checkType(ty: string, v: unknown, depth = 0): void {
  if (depth > 32) throw new AbiError(`type ${ty.slice(0, 40)}… nests too deeply`);
  const bad = (what: string) => {
    throw new AbiError(`expected ${ty} (${what}), got ${JSON.stringify(v)}`);
  };
  if (ty.startsWith("(") && ty.endsWith(")")) {
    const parts = splitTop(ty.slice(1, -1));
    if (parts.length === 0) return v === null ? undefined : bad("null");
    if (!Array.isArray(v) || v.length !== parts.length) return bad(`an array of ${parts.length}`);
    parts.forEach((t, i) => checkType(t, v[i], depth + 1));
    return;
  }
  const open = ty.indexOf("<");
  const name = open < 0 ? ty : ty.slice(0, open);
  const args = open < 0 ? [] : splitTop(ty.slice(open + 1, -1));
  if (name in INTS) {
    const [lo, hi] = INTS[name];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || BigInt(v) < lo || BigInt(v) > hi) {
      bad(`an integer from ${lo} to ${hi}`);
    }
    return;
  }
  switch (name) {
    case "bool":
      if (typeof v !== "boolean") bad("true or false");
      return;
    case "String":
    case "str":
      if (typeof v !== "string") bad("a string");
      return;
    case "Address":
      if (typeof v !== "string" || !/^[0-9a-fA-F]{64}$/.test(v)) bad("64 hex digits");
      return;
    case "Amount":
      if (
        !(typeof v === "string" && /^[0-9]{1,39}$/.test(v) && BigInt(v) < 1n << 128n) &&
        !(typeof v === "number" && Number.isSafeInteger(v) && v >= 0)
      ) {
        bad("a decimal string of at most 39 digits");
      }
      return;
    case "Option":
      if (v !== null && v !== undefined) checkType(args[0], v, depth + 1);
      return;
    case "Vec":
      if (!Array.isArray(v)) bad("an array");
      (v as unknown[]).forEach((x, i) => {
        try {
          checkType(args[0], x, depth + 1);
        } catch (e) {
          throw new AbiError(`[${i}]: ${(e as Error).message}`);
        }
      });
      return;
    default:
      return; // `Json` and the contract's own types: the contract checks them.
  }
}

/** Checks `args` against method `name` of `abi`. */
export function checkArgs(abi: Abi, name: string, args: Record<string, unknown> | null | undefined): AbiMethod {
  const m = abi.methods.find((m) => m.name === name);
  if (!m) {
    throw new AbiError(`the contract has no method \`${name}\` (its methods: ${abi.methods.map((m) => m.name).join(", ")})`);
  }
  const given = args ?? {};
  if (typeof given !== "object" || Array.isArray(given)) throw new AbiError(`the arguments of \`${name}\` must be an object`);
  const names = m.params.map((p) => p.name);
  for (const k of Object.keys(given)) {
    if (!names.includes(k)) throw new AbiError(`\`${name}\` has no parameter \`${k}\` (its parameters: ${names.join(", ") || "none"})`);
  }
  for (const p of m.params) {
    if (!(p.name in given)) {
      if (p.type.startsWith("Option<")) continue;
      throw new AbiError(`missing argument \`${p.name}\` (${p.type})`);
    }
    try {
      checkType(p.type, given[p.name]);
    } catch (e) {
      throw new AbiError(`argument \`${p.name}\`: ${(e as Error).message}`);
    }
  }
  return m;
}

/**
 * A deployed contract, reached through its ABI. The ABI comes from the node: it makes
 * mistakes cheap, it is not a security boundary (a lying node can describe the contract
 * wrongly; what the contract does is what its code does).
 */
export class Contract {
  constructor(
    readonly client: Client,
    readonly address: Uint8Array,
    readonly abi: Abi,
    /** The chain transactions are signed for (a node answering for another is refused). */
    readonly chainId: string,
  ) {}

  /**
   * The contract at `address` on chain `chainId` (from your genesis file), with the ABI its
   * code carries.
   */
  static async at(client: Client, chainId: string, address: Uint8Array | string): Promise<Contract> {
    const a = typeof address === "string" ? fromHex(address, 32) : address;
    const status = await client.status();
    if (status.chain_id !== chainId) throw new AbiError(`the node serves ${status.chain_id}, not ${chainId}`);
    const info = await client.contract(a);
    if (!info.abi) throw new AbiError(`${toHex(a)} has no ABI`);
    return new Contract(client, a, info.abi as Abi, chainId);
  }

  /** A read-only call of a method (checked against the ABI), at the latest or a height. */
  async query<T = unknown>(method: string, args?: Record<string, unknown>, height?: number): Promise<T> {
    checkArgs(this.abi, method, args);
    return this.client.query<T>(this.address, method, args ?? null, height);
  }

  /** A signed call transaction of `method` (checked against the ABI), not yet sent. */
  async prepare(key: Key, method: string, args?: Record<string, unknown>, gasLimit: bigint | number = 5_000_000n): Promise<SignedTx> {
    const m = checkArgs(this.abi, method, args);
    if (m.kind === "init" || m.kind === "migrate") throw new AbiError(`\`${method}\` is not callable (${m.kind})`);
    // Signed for the chain the caller named, never for whatever the node says it is.
    return signTx(
      {
        chainId: this.chainId,
        sender: key.publicKey,
        nonce: await this.client.nonce(key.address),
        gasLimit,
        payload: { type: "call", contract: this.address, method, args: jsonArgs(args) },
      },
      key,
    );
  }

  /** Calls `method` in a transaction and waits for it to be final; its receipt. */
  async call(key: Key, method: string, args?: Record<string, unknown>, gasLimit?: bigint | number): Promise<ReceiptView> {
    const tx = await this.prepare(key, method, args, gasLimit);
    const { hash, receipt } = await this.client.submit(tx);
    if (!receipt) throw new Error(`transaction ${hash} was accepted but the node sent no receipt`);
    return receipt;
  }
}
