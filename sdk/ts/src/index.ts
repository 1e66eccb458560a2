/**
 * Phalanx client library: keys, transactions, JSON-RPC, and a light client that checks
 * state proofs and commit certificates against a genesis validator set. Formats:
 * docs/WIRE.md of the Phalanx repository.
 */

/** The node's JSON-RPC types, generated from its OpenRPC document (docs/openrpc.json). */
export type * as api from "./api.js";
export * from "./bytes.js";
export * from "./contract.js";
export * from "./encoding.js";
export * from "./hash.js";
export * from "./keys.js";
export * from "./light.js";
export * from "./rpc.js";
export * from "./subscribe.js";
export * from "./tx.js";
