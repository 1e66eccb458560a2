/** Transactions: building, encoding, signing (docs/WIRE.md, section 4). */

import { concat, toBase64, utf8 } from "./bytes.js";
import { Writer } from "./encoding.js";
import { digest } from "./hash.js";
import { Key } from "./keys.js";

/** Who may migrate a contract. */
export type Admin = { account: Uint8Array } | "governance";

/** A change proposed to governance (evidence on removals is not supported here). */
export type Proposal =
  | { type: "add_validator"; publicKey: Uint8Array; peerId: string }
  | { type: "remove_validator"; address: Uint8Array }
  | { type: "allow_deployer"; address: Uint8Array }
  | { type: "revoke_deployer"; address: Uint8Array }
  | { type: "set_param"; name: string; value: bigint | number }
  | { type: "migrate_contract"; contract: Uint8Array; codeHash: Uint8Array; args: Uint8Array }
  | { type: "set_contract_admin"; contract: Uint8Array; admin: Admin | null };

/** What a transaction does. */
export type Payload =
  | { type: "deploy"; code: Uint8Array; initArgs: Uint8Array; admin: Admin | null }
  | { type: "instantiate"; codeHash: Uint8Array; initArgs: Uint8Array; admin: Admin | null }
  | { type: "call"; contract: Uint8Array; method: string; args: Uint8Array }
  | { type: "propose"; change: Proposal; force: boolean }
  | { type: "approve"; proposalId: bigint | number }
  | {
      type: "migrate";
      contract: Uint8Array;
      codeHash: Uint8Array;
      code: Uint8Array | null;
      args: Uint8Array;
    }
  | { type: "set_admin"; contract: Uint8Array; admin: Admin | null };

/** A transaction body. */
export interface Tx {
  chainId: string;
  sender: Uint8Array;
  nonce: bigint | number;
  gasLimit: bigint | number;
  payload: Payload;
}

/** JSON arguments as the bytes a payload carries (empty for none). */
export function jsonArgs(args: unknown): Uint8Array {
  return args === undefined || args === null ? new Uint8Array(0) : utf8(JSON.stringify(args));
}

function admin(w: Writer, a: Admin): void {
  if (a === "governance") w.u32(1);
  else w.u32(0).fixed(a.account, 32);
}

function proposal(w: Writer, p: Proposal): void {
  switch (p.type) {
    case "add_validator":
      w.u32(0).fixed(p.publicKey, 32).string(p.peerId);
      break;
    case "remove_validator":
      w.u32(1).fixed(p.address, 32).u8(0);
      break;
    case "allow_deployer":
      w.u32(2).fixed(p.address, 32);
      break;
    case "revoke_deployer":
      w.u32(3).fixed(p.address, 32);
      break;
    case "set_param":
      w.u32(4).string(p.name).u64(p.value);
      break;
    case "migrate_contract":
      w.u32(5).fixed(p.contract, 32).fixed(p.codeHash, 32).byteString(p.args);
      break;
    case "set_contract_admin":
      w.u32(6).fixed(p.contract, 32).option(p.admin, admin);
      break;
  }
}

function payload(w: Writer, p: Payload): void {
  switch (p.type) {
    case "deploy":
      w.u32(0).byteString(p.code).byteString(p.initArgs).option(p.admin, admin);
      break;
    case "instantiate":
      w.u32(1).fixed(p.codeHash, 32).byteString(p.initArgs).option(p.admin, admin);
      break;
    case "call":
      if (utf8(p.method).length > 64) throw new Error("a method name is at most 64 bytes");
      w.u32(2).fixed(p.contract, 32).string(p.method).byteString(p.args);
      break;
    case "propose":
      w.u32(3).u32(0);
      proposal(w, p.change);
      w.bool(p.force);
      break;
    case "approve":
      w.u32(3).u32(1).u64(p.proposalId);
      break;
    case "migrate":
      w.u32(4)
        .fixed(p.contract, 32)
        .fixed(p.codeHash, 32)
        .option(p.code, (w, c) => w.byteString(c))
        .byteString(p.args);
      break;
    case "set_admin":
      w.u32(5).fixed(p.contract, 32).option(p.admin, admin);
      break;
  }
}

/** The canonical encoding of a transaction body. */
export function encodeTx(tx: Tx): Uint8Array {
  const w = new Writer().string(tx.chainId).fixed(tx.sender, 32).u64(tx.nonce).u64(tx.gasLimit);
  payload(w, tx.payload);
  return w.bytes();
}

/** What the sender signs. */
export function signingHash(tx: Tx): Uint8Array {
  return digest("TxSign", encodeTx(tx));
}

/** A signed transaction. */
export interface SignedTx {
  tx: Tx;
  signature: Uint8Array;
  /** Its canonical encoding (what `tx_submit` takes, base64). */
  bytes: Uint8Array;
  /** Its id (what `tx_get` takes). */
  id: Uint8Array;
}

/** Signs `tx` with `key` (which must be the sender's). */
export function signTx(tx: Tx, key: Key): SignedTx {
  const body = encodeTx(tx);
  const signature = key.sign(digest("TxSign", body));
  const bytes = concat(body, signature);
  return { tx, signature, bytes, id: digest("Tx", bytes) };
}

/** A signed transaction as `tx_submit` takes it. */
export function txBase64(tx: SignedTx): string {
  return toBase64(tx.bytes);
}
