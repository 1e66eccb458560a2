/** ed25519 keys, signatures and addresses (docs/WIRE.md, section 3). */

import * as ed from "@noble/ed25519";
import { sha512 } from "@noble/hashes/sha2.js";
import { fromHex, toHex } from "./bytes.js";
import { Writer } from "./encoding.js";
import { digest } from "./hash.js";

ed.hashes.sha512 = sha512;

/** A 32-byte account or contract address. */
export type Address = Uint8Array;

/** The address of an ed25519 public key. */
export function addressOf(publicKey: Uint8Array): Address {
  return digest("Address", publicKey);
}

/** The address of the contract `deployer` creates with the transaction of `nonce`. */
export function contractAddress(deployer: Address, nonce: bigint | number): Address {
  return digest("ContractAddress", new Writer().fixed(deployer, 32).u64(nonce).bytes());
}

/** An account key. */
export class Key {
  /** The public key. */
  readonly publicKey: Uint8Array;
  /** The account address. */
  readonly address: Address;

  private constructor(private readonly seed: Uint8Array) {
    this.publicKey = ed.getPublicKey(seed);
    this.address = addressOf(this.publicKey);
  }

  /** From the 32-byte seed. */
  static fromSeed(seed: Uint8Array): Key {
    if (seed.length !== 32) throw new Error("an ed25519 seed is 32 bytes");
    return new Key(seed.slice());
  }

  /** A fresh random key. */
  static generate(): Key {
    return new Key(ed.utils.randomSecretKey());
  }

  /**
   * From the JSON of a key file written by `phalanx keys new` or `phalanx testnet`
   * (`{"type": "ed25519", "address", "public_key", "secret_key"}`); checks they agree.
   */
  static fromKeyFile(json: string): Key {
    const f = JSON.parse(json) as Record<string, unknown>;
    if (f.type !== "ed25519" || typeof f.secret_key !== "string") {
      throw new Error("not a phalanx ed25519 key file");
    }
    const k = Key.fromSeed(fromHex(f.secret_key, 32));
    if (f.public_key !== toHex(k.publicKey) || f.address !== toHex(k.address)) {
      throw new Error("the key file's public key or address does not match its secret key");
    }
    return k;
  }

  /** The key file's JSON. */
  toKeyFile(): string {
    return JSON.stringify(
      {
        type: "ed25519",
        address: toHex(this.address),
        public_key: toHex(this.publicKey),
        secret_key: toHex(this.seed),
      },
      null,
      2,
    );
  }

  /** An ed25519 signature of `message`. */
  sign(message: Uint8Array): Uint8Array {
    return ed.sign(message, this.seed);
  }
}

/** ZIP-215 verification, the rule for transaction signatures. */
export function verifyTx(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    return ed.verify(signature, message, publicKey, { zip215: true });
  } catch {
    return false;
  }
}

/** Strict RFC 8032 verification, the rule for consensus signatures (certificates). */
export function verifyStrict(
  signature: Uint8Array,
  message: Uint8Array,
  publicKey: Uint8Array,
): boolean {
  try {
    return ed.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}
