/**
 * The light client (docs/WIRE.md, sections 5 to 7): headers, validator sets, commit
 * certificates and state proofs, checked from a trusted validator set (genesis's) on, as
 * `phalanx verify` does. Nothing a node says is taken on trust.
 */

import { concat, equal, toHex, utf8 } from "./bytes.js";
import { Reader, Writer } from "./encoding.js";
import { digest } from "./hash.js";
import { addressOf, verifyStrict } from "./keys.js";

/** A block header. */
export interface Header {
  chainId: string;
  height: bigint;
  parentHash: Uint8Array;
  timestampMs: bigint;
  proposer: Uint8Array;
  txRoot: Uint8Array;
  stateRoot: Uint8Array;
  receiptsRoot: Uint8Array;
  validatorsHash: Uint8Array;
}

/** Decodes a header (for example `header_raw` of `state_getProof`). */
export function decodeHeader(bytes: Uint8Array): Header {
  const r = new Reader(bytes);
  const h = readHeader(r);
  r.end();
  return h;
}

function readHeader(r: Reader): Header {
  return {
    chainId: r.string(),
    height: r.u64(),
    parentHash: r.fixed(32),
    timestampMs: r.u64(),
    proposer: r.fixed(32),
    txRoot: r.fixed(32),
    stateRoot: r.fixed(32),
    receiptsRoot: r.fixed(32),
    validatorsHash: r.fixed(32),
  };
}

/** The canonical encoding of a header. */
export function encodeHeader(h: Header): Uint8Array {
  return new Writer()
    .string(h.chainId)
    .u64(h.height)
    .fixed(h.parentHash, 32)
    .u64(h.timestampMs)
    .fixed(h.proposer, 32)
    .fixed(h.txRoot, 32)
    .fixed(h.stateRoot, 32)
    .fixed(h.receiptsRoot, 32)
    .fixed(h.validatorsHash, 32)
    .bytes();
}

/** A block's id: the hash of its header. */
export function headerHash(h: Header): Uint8Array {
  return digest("Header", encodeHeader(h));
}

/** The Merkle root of a list of hashes (transactions, receipts). */
export function merkleRoot(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return new Uint8Array(32);
  let level = leaves.map((l) => digest("MerkleLeaf", l));
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(i + 1 < level.length ? digest("MerkleNode", level[i], level[i + 1]) : level[i]);
    }
    level = next;
  }
  return digest("MerkleNode", new Writer().u64(leaves.length).bytes(), level[0]);
}

/** A validator. */
export interface Validator {
  address: Uint8Array;
  publicKey: Uint8Array;
  peerId: string;
}

/** Encodes a validator set (its order is the primary rotation). */
export function encodeValidatorSet(set: Validator[]): Uint8Array {
  return new Writer()
    .seq(set, (w, v) => w.fixed(v.address, 32).fixed(v.publicKey, 32).string(v.peerId))
    .bytes();
}

function readValidatorSet(r: Reader): Validator[] {
  return r.seq((r) => {
    const v = { address: r.fixed(32), publicKey: r.fixed(32), peerId: r.string() };
    if (!equal(v.address, addressOf(v.publicKey))) throw new Error("a validator's address is not its key's");
    return v;
  }, 1024);
}

/** The set's commitment, as headers name it. */
export function validatorSetHash(set: Validator[]): Uint8Array {
  return digest("ValidatorSet", encodeValidatorSet(set));
}

/** 2f+1 of n = 3f+1 (in general ⌊(n + f + 2) / 2⌋ with f = ⌊(n − 1) / 3⌋). */
export function quorum(n: number): number {
  const f = Math.floor(Math.max(n - 1, 0) / 3);
  return Math.floor((n + f + 2) / 2);
}

/** A commit certificate. */
export interface Certificate {
  height: bigint;
  view: bigint;
  blockHash: Uint8Array;
  signatures: { validator: Uint8Array; signature: Uint8Array }[];
}

/** Decodes a certificate (`certificate_raw`). */
export function decodeCertificate(bytes: Uint8Array): Certificate {
  const r = new Reader(bytes);
  const c: Certificate = {
    height: r.u64(),
    view: r.u64(),
    blockHash: r.fixed(32),
    signatures: r.seq((r) => ({ validator: r.fixed(32), signature: r.fixed(64) }), 1024),
  };
  r.end();
  return c;
}

/** What each COMMIT signature covers. */
export function commitSigningHash(chainId: string, height: bigint, view: bigint, blockHash: Uint8Array): Uint8Array {
  const statement = new Writer().u32(2).u64(view).u64(height).fixed(blockHash, 32).bytes();
  return digest("ConsensusSign", new Writer().string(chainId).bytes(), statement);
}

/** Why a check failed. */
export class VerifyError extends Error {}

/** Checks that `cert` is a quorum of distinct members of `set` committing its block. */
export function verifyCertificate(chainId: string, set: Validator[], cert: Certificate): void {
  if (set.length === 0) throw new VerifyError("empty validator set");
  if (cert.signatures.length > set.length) throw new VerifyError("more signatures than validators");
  const signing = commitSigningHash(chainId, cert.height, cert.view, cert.blockHash);
  const seen = new Set<string>();
  for (const s of cert.signatures) {
    const v = set.find((v) => equal(v.address, s.validator));
    if (!v) throw new VerifyError("a signer is not a validator");
    const id = toHex(s.validator);
    if (seen.has(id)) throw new VerifyError("a validator signed twice");
    seen.add(id);
    if (!verifyStrict(s.signature, signing, v.publicKey)) {
      throw new VerifyError(`bad signature from ${id}`);
    }
  }
  if (seen.size < quorum(set.length)) {
    throw new VerifyError(`${seen.size} signatures, quorum is ${quorum(set.length)}`);
  }
}

const PLACEHOLDER = utf8("SPARSE_MERKLE_PLACEHOLDER_HASH__");
const LEAF = utf8("JMT::LeafNode");
const INTERNAL = utf8("JMT::IntrnalNode");

/** The state key of a contract's storage key. */
export function storageKey(contract: Uint8Array, key: Uint8Array): Uint8Array {
  if (contract.length !== 32) throw new Error("a contract address is 32 bytes");
  return concat(Uint8Array.of(3), contract, key);
}

/**
 * Checks a state proof (`proof` of `state_getProof`, decoded from base64): `stateKey` holds
 * `value` (or nothing, for null) under `root`.
 */
export function verifyStateProof(
  root: Uint8Array,
  stateKey: Uint8Array,
  value: Uint8Array | null,
  proof: Uint8Array,
): void {
  const h = (...parts: Uint8Array[]) => digest("StateTree", ...parts);
  const r = new Reader(proof);
  const leaf = r.option((r) => ({ keyHash: r.fixed(32), valueHash: r.fixed(32) }));
  const siblings = r.seq((r) => {
    switch (r.u32()) {
      case 0:
        return PLACEHOLDER;
      case 1:
        return h(INTERNAL, r.fixed(32), r.fixed(32));
      case 2:
        return h(LEAF, r.fixed(32), r.fixed(32));
      default:
        throw new VerifyError("bad proof node");
    }
  }, 256);
  r.end();
  const keyHash = h(stateKey);
  const bit = (k: Uint8Array, d: number) => ((k[d >> 3] >> (7 - (d & 7))) & 1) === 1;
  let node: Uint8Array;
  if (value !== null) {
    if (!leaf || !equal(leaf.keyHash, keyHash) || !equal(leaf.valueHash, h(value))) {
      throw new VerifyError("the proof is not for this key and value");
    }
    node = h(LEAF, leaf.keyHash, leaf.valueHash);
  } else if (leaf) {
    let shared = 0;
    while (shared < 256 && bit(leaf.keyHash, shared) === bit(keyHash, shared)) shared++;
    if (equal(leaf.keyHash, keyHash) || shared < siblings.length) {
      throw new VerifyError("the key is present, or the proof is not for it");
    }
    node = h(LEAF, leaf.keyHash, leaf.valueHash);
  } else {
    node = PLACEHOLDER;
  }
  const n = siblings.length;
  siblings.forEach((sib, i) => {
    node = bit(keyHash, n - 1 - i) ? h(INTERNAL, sib, node) : h(INTERNAL, node, sib);
  });
  if (!equal(node, root)) throw new VerifyError("the proof does not lead to the state root");
}

/** What `chain_getValidatorSetProof` answers (decoded from base64). */
export interface SetProof {
  height: bigint;
  configRaw: Uint8Array;
  proof: Uint8Array;
  headerRaw: Uint8Array;
  certificateRaw: Uint8Array;
}

/** The chain configuration's state key (`0x04 ++ "config"`). */
export const CONFIG_KEY = concat(Uint8Array.of(4), utf8("config"));

/**
 * Checks one validator-set change: the configuration in force from `p.height`, in the state
 * after the block before it, signed by `set` (the set trusted so far). Returns the new set.
 */
export function checkSetProof(chainId: string, set: Validator[], p: SetProof): Validator[] {
  const header = decodeHeader(p.headerRaw);
  const cert = decodeCertificate(p.certificateRaw);
  if (
    header.chainId !== chainId ||
    header.height + 1n !== p.height ||
    cert.height !== header.height ||
    !equal(cert.blockHash, headerHash(header))
  ) {
    throw new VerifyError(`the set proof is not for block ${p.height - 1n}`);
  }
  if (!equal(header.validatorsHash, validatorSetHash(set))) {
    throw new VerifyError("the set proof names a block the trusted set did not decide");
  }
  verifyCertificate(chainId, set, cert);
  verifyStateProof(header.stateRoot, CONFIG_KEY, p.configRaw, p.proof);
  // ChainConfig starts with the validator set; the rest (deploy policy, parameters) is not
  // needed here.
  return readValidatorSet(new Reader(p.configRaw));
}
