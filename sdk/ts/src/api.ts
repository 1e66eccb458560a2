/* eslint-disable */
/**
 * The node's JSON-RPC API types, generated from docs/openrpc.json (itself generated from the
 * node's Rust API types, node/rpc/src/api) by scripts/gen-api.mjs. Do not edit: run
 * `npm run gen:api` after the document changes.
 *
 * Integers are JSON numbers: heights, nonces and gas stay below 2^53 in practice; amounts a
 * contract returns are its own JSON (the token's are strings).
 */

/**
 * 32 bytes, lowercase hex
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "Hash".
 */
export type Hash = string;
/**
 * 32 bytes, lowercase hex
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "Address".
 */
export type Address = string;
/**
 * 64 bytes, lowercase hex
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "Signature".
 */
export type Signature = string;
/**
 * 32 bytes, lowercase hex
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "PublicKey".
 */
export type PublicKey = string;
/**
 * Who may deploy contracts.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "DeployPolicyView".
 */
export type DeployPolicyView =
  | "anyone"
  | {
      allowlist: Address[];
    };
/**
 * A proposed change.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "ChangeView".
 */
export type ChangeView =
  | {
      address: Address;
      /**
       * Its node's peer id.
       */
      peer_id: string;
      public_key: PublicKey;
      type: "add_validator";
    }
  | {
      address: Address;
      /**
       * Equivocation evidence, if the removal is for misbehaviour.
       */
      evidence: EvidenceSummary | null;
      type: "remove_validator";
    }
  | {
      address: Address;
      type: "allow_deployer";
    }
  | {
      address: Address;
      type: "revoke_deployer";
    }
  | {
      /**
       * Its name.
       */
      name: string;
      type: "set_param";
      /**
       * Its new value.
       */
      value: number;
    }
  | {
      /**
       * The migration arguments (JSON text).
       */
      args: string;
      code_hash: Hash;
      contract: Address;
      type: "migrate_contract";
    }
  | {
      /**
       * The new admin (an address or `governance`); null: immutable.
       */
      admin: string | null;
      contract: Address;
      type: "set_contract_admin";
    };
/**
 * Where a proposal stands.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "ProposalState".
 */
export type ProposalState = "pending" | "expired" | "scheduled" | "applied";
/**
 * When `tx_submit` answers.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "Wait".
 */
export type Wait = "none" | "final";
/**
 * How a transaction ended.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "Outcome".
 */
export type Outcome = "ok" | "failed";
/**
 * One transaction's answer in a batch.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "BatchAnswer".
 */
export type BatchAnswer =
  | {
      hash: Hash;
    }
  | {
      error: ErrorObject;
    };
/**
 * A transaction's kind and the fields of it a reader wants.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "PayloadView".
 */
export type PayloadView =
  | {
      type: "deploy";
    }
  | {
      code_hash: Hash;
      type: "instantiate";
    }
  | {
      contract: Address;
      /**
       * The method.
       */
      method: string;
      type: "call";
    }
  | {
      governance: ActionView;
      type: "governance";
    }
  | {
      code_hash: Hash;
      contract: Address;
      type: "migrate";
      /**
       * Whether the transaction brings the code.
       */
      uploads_code: boolean;
    }
  | {
      /**
       * The new admin (an address or `governance`); null: immutable from now on.
       */
      admin: string | null;
      contract: Address;
      type: "set_admin";
    };
/**
 * A governance action (in transaction views).
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "ActionView".
 */
export type ActionView =
  | {
      action: "propose";
      change: ChangeView;
      /**
       * Whether it skips the waiting period (emergency removal).
       */
      force: boolean;
    }
  | {
      action: "approve";
      /**
       * The proposal.
       */
      proposal_id: number;
    };

/**
 * Every method of the node's JSON-RPC API: its parameters (by name) and result.
 */
export interface Methods {
  node_status: {
    params: {};
    result: Status;
  };
  chain_getBlock: {
    params: {
      /**
       * The block's hash.
       */
      hash?: Hash | null;
      /**
       * The block's height.
       */
      height?: number | null;
      /**
       * Leave the transaction hashes out (`txs` is empty; `tx_count` still counts them): for
       * views of many blocks of a busy chain.
       */
      omit_txs?: boolean;
    };
    result: BlockView;
  };
  chain_getValidators: {
    params: {
      /**
       * The height decided (default: the next block).
       */
      height?: number | null;
    };
    result: ValidatorView[];
  };
  chain_getValidatorSetProof: {
    params: {
      /**
       * The height decided (2 or more: height 1's set is genesis's).
       */
      height: number;
    };
    result: SetProof;
  };
  gov_proposals: {
    params: {
      /**
       * The first proposal id listed (default 0).
       */
      from_id?: number;
      /**
       * Page size (1 to 100, the default).
       */
      limit?: number | null;
    };
    result: ProposalsPage;
  };
  gov_proposal: {
    params: {
      /**
       * The proposal's id.
       */
      id: number;
    };
    result: ProposalView;
  };
  tx_submit: {
    params: {
      /**
       * The signed transaction's canonical encoding, base64.
       */
      tx: string;
      wait?: Wait;
    };
    result: Submitted;
  };
  tx_submitBatch: {
    params: {
      /**
       * Signed transactions, base64, admitted in order.
       */
      txs: string[];
    };
    result: BatchResults;
  };
  tx_get: {
    params: {
      hash: Hash;
    };
    result: TxWithReceipt | null;
  };
  tx_simulate: {
    params: {
      /**
       * A call without a transaction.
       */
      call?: CallParams | null;
      /**
       * Run on the state after this block (a retained height), as the next block would;
       * default the latest.
       */
      height?: number | null;
      /**
       * Execute a signed transaction without checking its signature (to estimate gas
       * before signing).
       */
      skip_signature?: boolean;
      /**
       * A signed transaction, base64.
       */
      tx?: string | null;
    };
    result: Simulation;
  };
  account_get: {
    params: {
      address: Address;
    };
    result: Account;
  };
  account_txs: {
    params: {
      address: Address;
      /**
       * Transactions with nonces below this one (default: the account's next nonce, so the
       * latest); `next_before` of the previous page.
       */
      before_nonce?: number | null;
      /**
       * Page size (1 to 100; default 20).
       */
      limit?: number | null;
    };
    result: AccountHistory;
  };
  contract_query: {
    params: {
      address: Address;
      /**
       * The arguments (JSON).
       */
      args?: unknown;
      /**
       * Who the contract sees as caller (default: the zero address).
       */
      caller?: Address | null;
      /**
       * Run against the state after this block (a retained height) instead of the latest.
       */
      height?: number | null;
      /**
       * The method.
       */
      method: string;
    };
    result: QueryResult;
  };
  contract_get: {
    params: {
      address: Address;
      /**
       * The contract as it was after this block (a retained height); default latest.
       */
      height?: number | null;
    };
    result: ContractView;
  };
  state_getProof: {
    params: {
      address: Address;
      /**
       * The height whose state root the proof is against (default: the latest).
       */
      height?: number | null;
      /**
       * The contract's storage key, base64.
       */
      key: string;
    };
    result: StateProof;
  };
  events_get: {
    params: {
      /**
       * Only this contract's events.
       */
      address?: Address | null;
      /**
       * `next_cursor` of the previous page.
       */
      cursor?: string | null;
      /**
       * The first height.
       */
      from_height: number;
      /**
       * Page size (1 to 1,000; default 100).
       */
      limit?: number | null;
      /**
       * The last height.
       */
      to_height: number;
      /**
       * Only this topic.
       */
      topic?: string | null;
    };
    result: EventsPage;
  };
  net_peers: {
    params: {};
    result: string[];
  };
  evidence_list: {
    params: {
      /**
       * The lowest height listed (default 0).
       */
      from_height?: number;
    };
    result: EvidenceView[];
  };
  "rpc.discover": {
    params: {};
    result: OpenRpcDocument;
  };
  subscribe: {
    params: {
      /**
       * Events of this contract only.
       */
      address?: Address | null;
      /**
       * `blocks` or `events`.
       */
      topic: string;
      /**
       * Events of this topic only.
       */
      topic_filter?: string | null;
    };
    result: number;
  };
  unsubscribe: {
    params: {
      /**
       * The id `subscribe` returned.
       */
      subscription: number;
    };
    result: boolean;
  };
}
/**
 * `node_status`.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "Status".
 */
export interface Status {
  /**
   * The chain id.
   */
  chain_id: string;
  /**
   * The commit it was built from ("unknown" outside a git checkout).
   */
  commit: string;
  /**
   * The lowest height whose block this node still holds (pruning raises it).
   */
  earliest_height: number;
  /**
   * The lowest height whose state this node still holds.
   */
  earliest_state_height: number;
  /**
   * Latest committed height.
   */
  height: number;
  /**
   * True while this node leads the view.
   */
  is_primary: boolean;
  latest_hash: Hash;
  /**
   * Pending transactions.
   */
  mempool: number;
  /**
   * Its libp2p peer id.
   */
  peer_id: string;
  /**
   * Connected peers.
   */
  peers: number;
  state_root: Hash;
  /**
   * True while a peer is known to be more than one block ahead.
   */
  syncing: boolean;
  /**
   * Its validator address while it is in the current set.
   */
  validator: Address | null;
  /**
   * Size of the current validator set.
   */
  validators: number;
  /**
   * The node's version.
   */
  version: string;
  /**
   * The consensus view.
   */
  view: number;
}
/**
 * `chain_getBlock`: a block's header, its transactions' hashes and its certificate.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "BlockView".
 */
export interface BlockView {
  /**
   * The commit certificate (null where the node holds none).
   */
  certificate: CertificateView | null;
  header: HeaderView;
  /**
   * How many transactions the block holds.
   */
  tx_count: number;
  /**
   * The transactions' hashes, in block order (empty when asked with `omit_txs`).
   */
  txs: Hash[];
}
/**
 * A commit certificate: a quorum of COMMIT signatures for the block.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "CertificateView".
 */
export interface CertificateView {
  block_hash: Hash;
  /**
   * The block's height.
   */
  height: number;
  /**
   * The signatures.
   */
  signatures: SignatureView[];
  /**
   * The view it was committed in.
   */
  view: number;
}
/**
 * One validator's commit signature.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "SignatureView".
 */
export interface SignatureView {
  signature: Signature;
  validator: Address;
}
/**
 * A block header, with the block's hash.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "HeaderView".
 */
export interface HeaderView {
  /**
   * The chain id.
   */
  chain_id: string;
  hash: Hash;
  /**
   * The height.
   */
  height: number;
  parent: Hash;
  proposer: Address;
  receipts_root: Hash;
  state_root: Hash;
  /**
   * The proposer's timestamp, ms since the Unix epoch.
   */
  time: number;
  tx_root: Hash;
  validators_hash: Hash;
}
/**
 * A validator.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "ValidatorView".
 */
export interface ValidatorView {
  address: Address;
  /**
   * Its node's libp2p peer id.
   */
  peer_id: string;
  public_key: PublicKey;
}
/**
 * The validator set deciding `height`, with what proves it: the configuration record in
 * the state after block `height - 1`, its Merkle proof against that block's state root, and
 * that block's header and commit certificate (raw encodings, base64; docs/WIRE.md).
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "SetProof".
 */
export interface SetProof {
  /**
   * Its commit certificate, base64.
   */
  certificate_raw: string;
  /**
   * The configuration record, base64.
   */
  config_raw: string;
  /**
   * The header of block `height - 1`, base64.
   */
  header_raw: string;
  /**
   * The height decided.
   */
  height: number;
  /**
   * The Merkle proof, base64.
   */
  proof: string;
  /**
   * Its state key, base64.
   */
  state_key: string;
  /**
   * The set.
   */
  validators: ValidatorView[];
}
/**
 * `gov_proposals`' answer: a page of proposals, and the configuration in force.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "ProposalsPage".
 */
export interface ProposalsPage {
  /**
   * Who may deploy.
   */
  deploy_policy: DeployPolicyView | null;
  /**
   * `from_id` of the next page; null on the last.
   */
  next_from_id: number | null;
  /**
   * The consensus parameters (docs/GOVERNANCE.md, "Parameters").
   */
  params: unknown;
  /**
   * The proposals, in id order.
   */
  proposals: ProposalView[];
  /**
   * Votes needed for a quorum (2f+1).
   */
  quorum: number | null;
  /**
   * An approved change waiting for its height.
   */
  scheduled: ScheduledView | null;
  /**
   * The validator set in force.
   */
  validators: ValidatorView[] | null;
}
/**
 * A proposal.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "ProposalView".
 */
export interface ProposalView {
  /**
   * The height it applies (or applied) from.
   */
  activates_at: number | null;
  /**
   * The validators that approved it.
   */
  approvals: Address[];
  /**
   * The height it reached a quorum at.
   */
  approved_at: number | null;
  change: ChangeView;
  /**
   * The height it was proposed at.
   */
  created_at: number;
  /**
   * The last height it may be approved at.
   */
  expires_at: number;
  /**
   * Whether it skips the waiting period.
   */
  force: boolean;
  /**
   * Its id.
   */
  id: number;
  proposer: Address;
  status: ProposalState;
}
/**
 * The evidence a removal carries, summarized.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "EvidenceSummary".
 */
export interface EvidenceSummary {
  /**
   * The height of the equivocation.
   */
  height: number;
  /**
   * Its phase.
   */
  phase: string;
  /**
   * Its view.
   */
  view: number;
}
/**
 * An approved change waiting for its height.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "ScheduledView".
 */
export interface ScheduledView {
  /**
   * The first height it applies to.
   */
  activates_at: number;
  /**
   * The proposal.
   */
  proposal_id: number;
  /**
   * The validator set from then on.
   */
  validators: ValidatorView[];
}
/**
 * `tx_submit`'s answer.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "Submitted".
 */
export interface Submitted {
  hash: Hash;
  /**
   * Its receipt (`wait: "final"` only).
   */
  receipt?: ReceiptView | null;
}
/**
 * A receipt.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "ReceiptView".
 */
export interface ReceiptView {
  /**
   * Why it failed.
   */
  error?: TxError | null;
  /**
   * Events, in order (none if it failed).
   */
  events: EventView[];
  /**
   * Gas used (what it paid).
   */
  gas_used: number;
  /**
   * The block's height.
   */
  height: number;
  /**
   * The transaction's index in the block.
   */
  index: number;
  /**
   * The return value (JSON, or base64 if not JSON); a deploy's is the new contract's
   * address (hex).
   */
  return: unknown;
  status: Outcome;
  tx_hash: Hash;
}
/**
 * A failed transaction's or call's error.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "TxError".
 */
export interface TxError {
  /**
   * The runtime's or the contract's error code (CONTRACTS.md, "Error codes").
   */
  code: number;
  /**
   * The message.
   */
  message: string;
}
/**
 * An event a contract emitted.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "EventView".
 */
export interface EventView {
  contract: Address;
  /**
   * The data (JSON, or base64 if not JSON).
   */
  data: unknown;
  /**
   * The topic.
   */
  topic: string;
}
/**
 * `tx_submitBatch`'s answer.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "BatchResults".
 */
export interface BatchResults {
  /**
   * One answer per transaction, in order.
   */
  results: BatchAnswer[];
}
/**
 * A JSON-RPC error object (also each failed entry of `tx_submitBatch`).
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "ErrorObject".
 */
export interface ErrorObject {
  /**
   * The error code (docs/RPC.md, "Errors").
   */
  code: number;
  /**
   * What went wrong.
   */
  message: string;
}
/**
 * `tx_get`'s answer.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "TxWithReceipt".
 */
export interface TxWithReceipt {
  /**
   * Its receipt (null if the node pruned it).
   */
  receipt: ReceiptView | null;
  tx: TxView;
}
/**
 * A committed transaction.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "TxView".
 */
export interface TxView {
  /**
   * The gas limit.
   */
  gas_limit: number;
  hash: Hash;
  /**
   * The sender's nonce.
   */
  nonce: number;
  payload: PayloadView;
  /**
   * Its canonical encoding, base64.
   */
  raw: string;
  sender: Address;
}
/**
 * A contract call simulated without a transaction.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "CallParams".
 */
export interface CallParams {
  address: Address;
  /**
   * The arguments (JSON).
   */
  args?: unknown;
  /**
   * The caller (default: the zero address).
   */
  from?: Address | null;
  /**
   * Gas limit (default: the chain's `max_tx_gas`).
   */
  gas?: number | null;
  /**
   * The method.
   */
  method: string;
}
/**
 * `tx_simulate`'s answer: a receipt as the next block would give it, and the writes.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "Simulation".
 */
export interface Simulation {
  /**
   * Why it would fail.
   */
  error?: TxError | null;
  /**
   * Events it would emit.
   */
  events: EventView[];
  /**
   * Gas it would use; for a call, with the intrinsic gas of a call transaction of its size.
   */
  gas_used: number;
  /**
   * The height it ran at (the block after the state's).
   */
  height: number;
  /**
   * Its index in the block (signed transactions only: 0).
   */
  index?: number | null;
  /**
   * The return value.
   */
  return: unknown;
  status: Outcome;
  /**
   * The transaction's hash (signed transactions only).
   */
  tx_hash?: Hash | null;
  writes: Writes;
}
/**
 * What a simulation's state changes amount to.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "Writes".
 */
export interface Writes {
  /**
   * Bytes written (keys and values).
   */
  bytes: number;
  /**
   * Keys deleted.
   */
  keys_deleted: number;
  /**
   * Keys set.
   */
  keys_set: number;
}
/**
 * An account.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "Account".
 */
export interface Account {
  address: Address;
  /**
   * Its next nonce.
   */
  nonce: number;
}
/**
 * `account_txs`' answer: an account's committed transactions, newest first.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "AccountHistory".
 */
export interface AccountHistory {
  address: Address;
  /**
   * `before_nonce` of the next (older) page; null on the last.
   */
  next_before: number | null;
  /**
   * Its next nonce.
   */
  nonce: number;
  /**
   * The transactions (those of pruned blocks are gone).
   */
  txs: AccountTx[];
}
/**
 * One committed transaction of an account.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "AccountTx".
 */
export interface AccountTx {
  hash: Hash;
  /**
   * The height of its block.
   */
  height: number;
  /**
   * Its nonce.
   */
  nonce: number;
}
/**
 * `contract_query`'s answer.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "QueryResult".
 */
export interface QueryResult {
  /**
   * Gas the query used.
   */
  gas_used: number;
  /**
   * The return value (JSON, or base64 if not JSON).
   */
  result: unknown;
}
/**
 * A contract record.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "ContractView".
 */
export interface ContractView {
  /**
   * The ABI its code embeds (CONTRACTS.md, "The ABI"); null if none.
   */
  abi: unknown;
  address: Address;
  /**
   * Its admin (an address or `governance`); null: immutable.
   */
  admin: string | null;
  code_hash: Hash;
  deployer: Address;
  /**
   * The height it was created at.
   */
  height: number;
}
/**
 * A contract storage value with its Merkle proof against the state root of `height` and
 * that height's commit certificate: a client that knows the validator set checks the
 * value without trusting the node (docs/WIRE.md, "Proofs").
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "StateProof".
 */
export interface StateProof {
  address: Address;
  certificate: CertificateView;
  /**
   * Its canonical encoding, base64.
   */
  certificate_raw: string;
  header: HeaderView;
  /**
   * Its canonical encoding, base64.
   */
  header_raw: string;
  /**
   * The height.
   */
  height: number;
  /**
   * The contract's storage key, base64.
   */
  key: string;
  /**
   * The Merkle proof, base64.
   */
  proof: string;
  /**
   * The full state key, base64.
   */
  state_key: string;
  state_root: Hash;
  /**
   * The value, base64; null if absent (the proof then proves absence).
   */
  value: string | null;
}
/**
 * A page of events.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "EventsPage".
 */
export interface EventsPage {
  /**
   * The events, in chain order.
   */
  events: LocatedEvent[];
  /**
   * Where the next page starts; null when the range is done.
   */
  next_cursor: string | null;
}
/**
 * An event with where it happened (`events_get` and `events` subscriptions).
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "LocatedEvent".
 */
export interface LocatedEvent {
  contract: Address;
  /**
   * The data (JSON, or base64 if not JSON).
   */
  data: unknown;
  /**
   * The event's index in the transaction's receipt.
   */
  event_index: number;
  /**
   * The block's height.
   */
  height: number;
  /**
   * The transaction's index in the block.
   */
  index: number;
  /**
   * The topic.
   */
  topic: string;
  tx_hash: Hash;
}
/**
 * Stored equivocation evidence: two conflicting signed statements of one validator.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "EvidenceView".
 */
export interface EvidenceView {
  first: Hash;
  /**
   * The height.
   */
  height: number;
  offender: Address;
  /**
   * The phase (`PrePrepare`, `Prepare`, `Commit`, `ViewChange`, `NewView`).
   */
  phase: string;
  /**
   * The canonical encoding, base64: what a removal proposal carries as proof.
   */
  raw: string;
  second: Hash;
  /**
   * The view.
   */
  view: number;
}
/**
 * An OpenRPC 1.2 document (https://spec.open-rpc.org).
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "OpenRpcDocument".
 */
export interface OpenRpcDocument {
  components?: {
    [k: string]: unknown | undefined;
  };
  info: {
    [k: string]: unknown | undefined;
  };
  methods: {
    [k: string]: unknown | undefined;
  }[];
  openrpc: string;
  [k: string]: unknown | undefined;
}
/**
 * `account_txs`.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "AccountTxsParams".
 */
export interface AccountTxsParams {
  address: Address;
  /**
   * Transactions with nonces below this one (default: the account's next nonce, so the
   * latest); `next_before` of the previous page.
   */
  before_nonce?: number | null;
  /**
   * Page size (1 to 100; default 20).
   */
  limit?: number | null;
}
/**
 * `account_get`.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "AddressParams".
 */
export interface AddressParams {
  address: Address;
}
/**
 * `chain_getBlock`: by height or by hash (not both); the latest by default.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "BlockParams".
 */
export interface BlockParams {
  /**
   * The block's hash.
   */
  hash?: Hash | null;
  /**
   * The block's height.
   */
  height?: number | null;
  /**
   * Leave the transaction hashes out (`txs` is empty; `tx_count` still counts them): for
   * views of many blocks of a busy chain.
   */
  omit_txs?: boolean;
}
/**
 * `contract_get`.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "ContractParams".
 */
export interface ContractParams {
  address: Address;
  /**
   * The contract as it was after this block (a retained height); default latest.
   */
  height?: number | null;
}
/**
 * `events_get`.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "EventsParams".
 */
export interface EventsParams {
  /**
   * Only this contract's events.
   */
  address?: Address | null;
  /**
   * `next_cursor` of the previous page.
   */
  cursor?: string | null;
  /**
   * The first height.
   */
  from_height: number;
  /**
   * Page size (1 to 1,000; default 100).
   */
  limit?: number | null;
  /**
   * The last height.
   */
  to_height: number;
  /**
   * Only this topic.
   */
  topic?: string | null;
}
/**
 * `evidence_list`.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "EvidenceParams".
 */
export interface EvidenceParams {
  /**
   * The lowest height listed (default 0).
   */
  from_height?: number;
}
/**
 * `tx_get` (and `chain_getBlock`-style lookups by hash).
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "HashParams".
 */
export interface HashParams {
  hash: Hash;
}
/**
 * A `blocks` subscription's notification: the block (without certificate) and how its
 * transactions fared.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "NewBlock".
 */
export interface NewBlock {
  /**
   * The commit certificate (null where the node holds none).
   */
  certificate: CertificateView | null;
  header: HeaderView;
  /**
   * Per transaction, in block order: whether it succeeded.
   */
  ok: boolean[];
  /**
   * How many receipts it has (one per transaction).
   */
  receipts: number;
  /**
   * How many transactions the block holds.
   */
  tx_count: number;
  /**
   * The transactions' hashes, in block order (empty when asked with `omit_txs`).
   */
  txs: Hash[];
}
/**
 * For methods without parameters: `{}` (or none at all).
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "NoParams".
 */
export interface NoParams {}
/**
 * `state_getProof`.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "ProofParams".
 */
export interface ProofParams {
  address: Address;
  /**
   * The height whose state root the proof is against (default: the latest).
   */
  height?: number | null;
  /**
   * The contract's storage key, base64.
   */
  key: string;
}
/**
 * `gov_proposal`.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "ProposalParams".
 */
export interface ProposalParams {
  /**
   * The proposal's id.
   */
  id: number;
}
/**
 * `gov_proposals`.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "ProposalsParams".
 */
export interface ProposalsParams {
  /**
   * The first proposal id listed (default 0).
   */
  from_id?: number;
  /**
   * Page size (1 to 100, the default).
   */
  limit?: number | null;
}
/**
 * `contract_query`.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "QueryParams".
 */
export interface QueryParams {
  address: Address;
  /**
   * The arguments (JSON).
   */
  args?: unknown;
  /**
   * Who the contract sees as caller (default: the zero address).
   */
  caller?: Address | null;
  /**
   * Run against the state after this block (a retained height) instead of the latest.
   */
  height?: number | null;
  /**
   * The method.
   */
  method: string;
}
/**
 * `chain_getValidatorSetProof`.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "SetProofParams".
 */
export interface SetProofParams {
  /**
   * The height decided (2 or more: height 1's set is genesis's).
   */
  height: number;
}
/**
 * `tx_simulate`: exactly one of `tx` and `call`.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "SimulateParams".
 */
export interface SimulateParams {
  /**
   * A call without a transaction.
   */
  call?: CallParams | null;
  /**
   * Run on the state after this block (a retained height), as the next block would;
   * default the latest.
   */
  height?: number | null;
  /**
   * Execute a signed transaction without checking its signature (to estimate gas
   * before signing).
   */
  skip_signature?: boolean;
  /**
   * A signed transaction, base64.
   */
  tx?: string | null;
}
/**
 * `tx_submitBatch`.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "SubmitBatchParams".
 */
export interface SubmitBatchParams {
  /**
   * Signed transactions, base64, admitted in order.
   */
  txs: string[];
}
/**
 * `tx_submit`.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "SubmitParams".
 */
export interface SubmitParams {
  /**
   * The signed transaction's canonical encoding, base64.
   */
  tx: string;
  wait?: Wait;
}
/**
 * `subscribe`.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "SubscribeParams".
 */
export interface SubscribeParams {
  /**
   * Events of this contract only.
   */
  address?: Address | null;
  /**
   * `blocks` or `events`.
   */
  topic: string;
  /**
   * Events of this topic only.
   */
  topic_filter?: string | null;
}
/**
 * `unsubscribe`.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "UnsubscribeParams".
 */
export interface UnsubscribeParams {
  /**
   * The id `subscribe` returned.
   */
  subscription: number;
}
/**
 * `chain_getValidators`.
 *
 * This interface was referenced by `Methods`'s JSON-Schema
 * via the `definition` "ValidatorsParams".
 */
export interface ValidatorsParams {
  /**
   * The height decided (default: the next block).
   */
  height?: number | null;
}
