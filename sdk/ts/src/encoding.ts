/**
 * The canonical encoding (docs/WIRE.md, section 1): bincode 2, little-endian, fixed-width
 * integers; strings, byte strings and sequences carry a u64 length; enums a u32 variant index.
 */

import { concat, utf8 } from "./bytes.js";

/** Builds an encoding. */
export class Writer {
  private parts: Uint8Array[] = [];

  /** The bytes written so far. */
  bytes(): Uint8Array {
    return concat(...this.parts);
  }

  u8(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`not a u8: ${v}`);
    this.parts.push(Uint8Array.of(v));
    return this;
  }

  u32(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`not a u32: ${v}`);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, true);
    this.parts.push(b);
    return this;
  }

  u64(v: bigint | number): this {
    if (typeof v === "number" && !Number.isSafeInteger(v)) throw new RangeError(`not an exact integer: ${v}`);
    const n = BigInt(v);
    if (n < 0n || n >= 1n << 64n) throw new RangeError(`not a u64: ${n}`);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, n, true);
    this.parts.push(b);
    return this;
  }

  bool(v: boolean): this {
    return this.u8(v ? 1 : 0);
  }

  /** Raw bytes of a fixed-size value (hash, address, key, signature): no length. */
  fixed(b: Uint8Array, len: number): this {
    if (b.length !== len) throw new Error(`expected ${len} bytes, got ${b.length}`);
    this.parts.push(b);
    return this;
  }

  /** A length-prefixed byte string. */
  byteString(b: Uint8Array): this {
    this.u64(b.length);
    this.parts.push(b);
    return this;
  }

  string(s: string): this {
    return this.byteString(utf8(s));
  }

  option<T>(v: T | null | undefined, write: (w: this, v: T) => void): this {
    if (v === null || v === undefined) return this.u8(0);
    this.u8(1);
    write(this, v);
    return this;
  }

  seq<T>(items: readonly T[], write: (w: this, v: T) => void): this {
    this.u64(items.length);
    for (const it of items) write(this, it);
    return this;
  }
}

/** Reads an encoding; every read checks the bytes are there. */
export class Reader {
  private at = 0;

  constructor(private readonly buf: Uint8Array) {}

  /** Fails unless every byte was read (the encoding refuses trailing bytes). */
  end(): void {
    if (this.at !== this.buf.length) throw new Error(`${this.buf.length - this.at} trailing bytes`);
  }

  take(n: number): Uint8Array {
    if (n < 0 || this.at + n > this.buf.length) throw new Error("truncated encoding");
    const out = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  u8(): number {
    return this.take(1)[0];
  }

  u32(): number {
    const b = this.take(4);
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
  }

  u64(): bigint {
    const b = this.take(8);
    return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
  }

  /** A u64 length, bounded so a hostile length cannot ask for a huge allocation. */
  len(max = 16 * 1024 * 1024): number {
    const n = this.u64();
    if (n > BigInt(max)) throw new Error(`length ${n} over ${max}`);
    return Number(n);
  }

  bool(): boolean {
    const b = this.u8();
    if (b > 1) throw new Error(`bad bool ${b}`);
    return b === 1;
  }

  fixed(n: number): Uint8Array {
    return this.take(n).slice();
  }

  byteString(): Uint8Array {
    return this.take(this.len()).slice();
  }

  string(): string {
    return new TextDecoder("utf-8", { fatal: true }).decode(this.byteString());
  }

  option<T>(read: (r: this) => T): T | null {
    const tag = this.u8();
    if (tag === 0) return null;
    if (tag !== 1) throw new Error(`bad option tag ${tag}`);
    return read(this);
  }

  seq<T>(read: (r: this) => T, max = 1 << 20): T[] {
    const n = this.len(max);
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(read(this));
    return out;
  }
}
