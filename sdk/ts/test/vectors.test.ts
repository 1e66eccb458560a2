// The golden vectors of node/types/tests/vectors, byte for byte: what the Rust code produces,
// this library must produce (and check) the same.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import {
  type Admin,
  type Payload,
  type Proposal,
  type Tx,
  DOMAINS,
  Key,
  VerifyError,
  Writer,
  addressOf,
  commitSigningHash,
  contractAddress,
  decodeCertificate,
  decodeHeader,
  digest,
  domainKey,
  encodeHeader,
  encodeTx,
  encodeValidatorSet,
  fromBase64,
  fromHex,
  headerHash,
  merkleRoot,
  quorum,
  signTx,
  signingHash,
  toHex,
  utf8,
  validatorSetHash,
  verifyCertificate,
  verifyStateProof,
  verifyTx,
} from "../src/index.js";

const vectors = (name: string): any =>
  JSON.parse(readFileSync(new URL(`../../../../node/types/tests/vectors/${name}.json`, import.meta.url), "utf8"));

test("hashing domains: keys and digests", () => {
  const v = vectors("hashing");
  assert.equal(v.domains.length, Object.keys(DOMAINS).length);
  for (const d of v.domains) {
    assert.equal(DOMAINS[d.domain as keyof typeof DOMAINS], d.context);
    assert.equal(toHex(domainKey(d.domain)), d.key, d.domain);
    assert.equal(toHex(digest(d.domain, utf8("phalanx"))), d.digest_of_utf8_phalanx, d.domain);
  }
});

test("keys, signatures and addresses", () => {
  for (const k of vectors("keys").keys) {
    const key = Key.fromSeed(fromHex(k.seed));
    assert.equal(toHex(key.publicKey), k.public_key);
    assert.equal(toHex(key.address), k.address);
    assert.equal(toHex(addressOf(key.publicKey)), k.address);
    assert.equal(toHex(key.sign(utf8(k.message_utf8))), k.signature);
    assert.equal(toHex(contractAddress(key.address, 5)), k.contract_address_nonce_5);
    // A key file round-trips, and one whose parts disagree is refused.
    const again = Key.fromKeyFile(key.toKeyFile());
    assert.equal(toHex(again.address), k.address);
    const forged = JSON.parse(key.toKeyFile());
    forged.address = "00".repeat(32);
    assert.throws(() => Key.fromKeyFile(JSON.stringify(forged)));
  }
});

// Rust's serde JSON of a transaction (externally tagged enums) into this library's types.
const b64 = (s: string) => fromBase64(s);
const admin = (a: any): Admin | null =>
  a === null ? null : a === "Governance" ? "governance" : { account: fromHex(a.Account, 32) };
function proposal(p: any): Proposal {
  const [kind, f] = Object.entries(p)[0] as [string, any];
  switch (kind) {
    case "SetParam":
      return { type: "set_param", name: f.name, value: BigInt(f.value) };
    case "AddValidator":
      return { type: "add_validator", publicKey: fromHex(f.public_key), peerId: f.peer_id };
    case "MigrateContract":
      return { type: "migrate_contract", contract: fromHex(f.contract), codeHash: fromHex(f.code_hash), args: b64(f.args) };
    default:
      throw new Error(`no vector mapping for ${kind}`);
  }
}
function payload(p: any): Payload {
  const [kind, f] = Object.entries(p)[0] as [string, any];
  switch (kind) {
    case "Deploy":
      return { type: "deploy", code: b64(f.code), initArgs: b64(f.init_args), admin: admin(f.admin) };
    case "Instantiate":
      return { type: "instantiate", codeHash: fromHex(f.code_hash), initArgs: b64(f.init_args), admin: admin(f.admin) };
    case "Call":
      return { type: "call", contract: fromHex(f.contract), method: f.method, args: b64(f.args) };
    case "Governance": {
      const [action, a] = Object.entries(f)[0] as [string, any];
      return action === "Propose"
        ? { type: "propose", change: proposal(a.change), force: a.force }
        : { type: "approve", proposalId: BigInt(a.proposal_id) };
    }
    case "Migrate":
      return {
        type: "migrate",
        contract: fromHex(f.contract),
        codeHash: fromHex(f.code_hash),
        code: f.code === null ? null : b64(f.code),
        args: b64(f.args),
      };
    case "SetAdmin":
      return { type: "set_admin", contract: fromHex(f.contract), admin: admin(f.admin) };
    default:
      throw new Error(`unknown payload ${kind}`);
  }
}

test("transactions: encoding, signing hash, signature, id", () => {
  const v = vectors("transactions");
  const key = Key.fromSeed(fromHex(v.signer_seed));
  assert.equal(v.transactions.length, 7, "one of each payload");
  for (const t of v.transactions) {
    const tx: Tx = {
      chainId: t.tx.chain_id,
      sender: fromHex(t.tx.sender),
      nonce: BigInt(t.tx.nonce),
      gasLimit: BigInt(t.tx.gas_limit),
      payload: payload(t.tx.payload),
    };
    assert.equal(toHex(encodeTx(tx)), t.tx_encoding, t.kind);
    assert.equal(toHex(signingHash(tx)), t.signing_hash, t.kind);
    const signed = signTx(tx, key);
    assert.equal(toHex(signed.signature), t.signature, t.kind);
    assert.equal(toHex(signed.bytes), t.signed_encoding, t.kind);
    assert.equal(toHex(signed.id), t.id, t.kind);
    assert.ok(verifyTx(signed.signature, signingHash(tx), tx.sender));
  }
});

test("blocks: header, Merkle roots, validator set", () => {
  const v = vectors("blocks");
  const header = decodeHeader(fromHex(v.header_encoding));
  assert.equal(header.height, 9n);
  assert.equal(toHex(encodeHeader(header)), v.header_encoding);
  assert.equal(toHex(headerHash(header)), v.block_id);
  for (const m of v.merkle_roots) {
    assert.equal(toHex(merkleRoot(m.leaves.map((l: string) => fromHex(l)))), m.root);
  }
  const set = v.validator_set.validators.map((x: any) => ({
    address: fromHex(x.address),
    publicKey: fromHex(x.public_key),
    peerId: x.peer_id,
  }));
  assert.equal(toHex(encodeValidatorSet(set)), v.validator_set_encoding);
  assert.equal(toHex(validatorSetHash(set)), v.validator_set_hash);
  assert.equal(toHex(digest("Receipt", fromHex(v.receipt_encoding))), v.receipt_hash);
});

test("certificates: a quorum verifies; a forged or short one is refused", () => {
  const v = vectors("certificates");
  const set = v.validator_seeds.map((s: string, i: number) => {
    const k = Key.fromSeed(fromHex(s));
    return { address: k.address, publicKey: k.publicKey, peerId: `12D3KooWVectorPeer${i}` };
  });
  assert.equal(toHex(validatorSetHash(set)), v.validator_set_hash);
  assert.equal(quorum(set.length), v.quorum);
  const cert = decodeCertificate(fromHex(v.certificate_encoding));
  assert.equal(toHex(commitSigningHash(v.chain_id, cert.height, cert.view, cert.blockHash)), v.signing_hash);
  verifyCertificate(v.chain_id, set, cert);
  for (const bad of [v.tampered, v.below_quorum]) {
    assert.equal(bad.valid, false);
    assert.throws(() => verifyCertificate(v.chain_id, set, decodeCertificate(fromHex(bad.certificate_encoding))), VerifyError);
  }
  // Bound to the chain: the same certificate on another chain id is refused.
  assert.throws(() => verifyCertificate("another-chain", set, cert), VerifyError);
});

test("state proofs: inclusion and exclusion; a wrong value or root is refused", () => {
  const v = vectors("proofs");
  const root = fromHex(v.root);
  for (const p of v.proofs) {
    const key = fromHex(p.state_key);
    const value = p.value === null ? null : fromHex(p.value);
    const proof = fromHex(p.proof_encoding);
    verifyStateProof(root, key, value, proof);
    assert.throws(() => verifyStateProof(root, key, utf8('"0"'), proof), VerifyError);
    const wrong = root.slice();
    wrong[0] ^= 1;
    assert.throws(() => verifyStateProof(wrong, key, value, proof), VerifyError);
    const cut = proof.slice(0, proof.length - 1);
    assert.throws(() => verifyStateProof(root, key, value, cut));
  }
});

test("the encoder refuses values the Rust types cannot hold", () => {
  assert.throws(() => new Writer().u64(-1n), RangeError);
  assert.throws(() => new Writer().u64(1n << 64n), RangeError);
  assert.throws(() => new Writer().u64(2 ** 53), RangeError, "not exact as a number");
  assert.throws(() => new Writer().u32(2 ** 32), RangeError);
  assert.throws(() => new Writer().u8(256), RangeError);
  assert.equal(toHex(new Writer().u64((1n << 64n) - 1n).bytes()), "ff".repeat(8));
  assert.throws(() => fromBase64("not base64!"));
});
