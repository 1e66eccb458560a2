/** Domain-separated keyed blake3 (docs/WIRE.md, section 2). */

import { blake3 } from "@noble/hashes/blake3.js";
import { utf8 } from "./bytes.js";

/** The hashing domains and their context strings. */
export const DOMAINS = {
  TxSign: "phalanx 2026 tx-sign v1",
  Tx: "phalanx 2026 tx v1",
  Header: "phalanx 2026 header v1",
  ConsensusSign: "phalanx 2026 consensus-sign v1",
  Address: "phalanx 2026 address v1",
  ContractAddress: "phalanx 2026 contract-address v1",
  ValidatorSet: "phalanx 2026 validator-set v1",
  Genesis: "phalanx 2026 genesis v1",
  Receipt: "phalanx 2026 receipt v1",
  MerkleLeaf: "phalanx 2026 merkle-leaf v1",
  MerkleNode: "phalanx 2026 merkle-node v1",
  StateTree: "phalanx 2026 state-tree v1",
  Code: "phalanx 2026 code v1",
  ConsensusContent: "phalanx 2026 consensus-content v1",
} as const;

/** A hashing domain. */
export type Domain = keyof typeof DOMAINS;

const keys = new Map<Domain, Uint8Array>();

/** The domain's key: blake3 derive_key(context, empty key material). */
export function domainKey(domain: Domain): Uint8Array {
  let k = keys.get(domain);
  if (!k) {
    k = blake3(new Uint8Array(0), { context: utf8(DOMAINS[domain]) });
    keys.set(domain, k);
  }
  return k;
}

/** `digest(domain, bytes)`: blake3 keyed with the domain's key. */
export function digest(domain: Domain, ...parts: Uint8Array[]): Uint8Array {
  const h = blake3.create({ key: domainKey(domain) });
  for (const p of parts) h.update(p);
  return h.digest();
}
