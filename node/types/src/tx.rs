//! Transactions: what an account asks the chain to do, signed with its ed25519 key.

use crate::bytes::Bytes;
use crate::consensus::Evidence;
use crate::crypto::{Address, PublicKey, SecretKey, Signature, SignatureBatch};
use crate::error::TypesError;
use crate::hash::{Domain, Hash};
use crate::{Gas, encoding};
use serde::{Deserialize, Serialize};

/// Largest encoded signed transaction accepted anywhere (RPC, gossip, blocks): 1 MiB.
pub const MAX_TX_BYTES: usize = 1024 * 1024;
/// Longest method name.
pub const MAX_METHOD_LEN: usize = 64;
/// Longest chain id.
pub const MAX_CHAIN_ID_LEN: usize = 64;

/// The unsigned body of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tx {
    /// The chain this transaction is for; part of what is signed, so it cannot be replayed
    /// on another chain.
    pub chain_id: String,
    /// The sender's public key; the sender's address is derived from it.
    pub sender: PublicKey,
    /// The sender's next nonce (0 for a fresh account). Each included tx consumes one.
    pub nonce: u64,
    /// The most gas this transaction may use.
    pub gas_limit: Gas,
    /// What to do.
    pub payload: TxPayload,
}

/// What a transaction does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxPayload {
    /// Store wasm code (once per code hash) and instantiate a contract from it, calling its
    /// `init` method with the JSON arguments.
    Deploy {
        /// The wasm module.
        code: Bytes,
        /// JSON arguments of `init` (UTF-8), empty for none.
        init_args: Bytes,
        /// Who may migrate the contract to other code; `None`: nobody, ever (immutable).
        admin: Option<Admin>,
    },
    /// Instantiate a contract from code already stored on chain.
    Instantiate {
        /// Hash of stored code.
        code_hash: Hash,
        /// JSON arguments of `init` (UTF-8), empty for none.
        init_args: Bytes,
        /// Who may migrate the contract; `None`: immutable.
        admin: Option<Admin>,
    },
    /// Call a contract method with JSON arguments.
    Call {
        /// The contract.
        contract: Address,
        /// The method's name.
        method: String,
        /// JSON arguments (UTF-8), empty for none.
        args: Bytes,
    },
    /// A governance action (membership and parameters).
    Governance(GovernanceAction),
    /// The contract's admin switches it to other code, keeping its address and storage, and
    /// the new code's `migrate` method runs in the same transaction: if it fails, nothing
    /// changes.
    Migrate {
        /// The contract.
        contract: Address,
        /// Hash of the new code.
        code_hash: Hash,
        /// The new code itself when the chain does not hold it yet (it must hash to
        /// `code_hash`; storing it needs the deploy permission, as a deploy does).
        code: Option<Bytes>,
        /// JSON arguments of `migrate` (UTF-8), empty for none.
        args: Bytes,
    },
    /// The contract's admin hands the role to another, or clears it (`None`: the contract
    /// becomes immutable, for good).
    SetAdmin {
        /// The contract.
        contract: Address,
        /// The new admin.
        admin: Option<Admin>,
    },
}

/// Who may upgrade a contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Admin {
    /// An account: it signs `Migrate` and `SetAdmin` transactions.
    Account(Address),
    /// The chain itself: only governance (2f+1 validators) migrates it.
    Governance,
}

impl std::fmt::Display for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Admin::Account(a) => write!(f, "{a}"),
            Admin::Governance => f.write_str("governance"),
        }
    }
}

impl std::str::FromStr for Admin {
    type Err = TypesError;

    /// `governance`, or an account address (hex).
    fn from_str(s: &str) -> Result<Admin, TypesError> {
        if s == "governance" {
            return Ok(Admin::Governance);
        }
        s.parse::<Address>().map(Admin::Account)
    }
}

/// Governance actions. Their rules are enforced by the node's execution layer: see
/// `docs/GOVERNANCE.md`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GovernanceAction {
    /// Propose a change; it takes effect after approval by 2f+1 current validators, at a
    /// later height that is the same for every node.
    Propose {
        /// What to change.
        change: Proposal,
        /// Accept a validator-set change even though the validators that stay could no longer
        /// reach a quorum on their own (the operators say the new ones are ready).
        force: bool,
    },
    /// A validator approves a pending proposal.
    Approve {
        /// The proposal's id.
        proposal_id: u64,
    },
}

/// A change to the chain's membership or parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Proposal {
    /// Add a validator (appended to the primary rotation).
    AddValidator {
        /// Its ed25519 consensus key.
        public_key: PublicKey,
        /// Its libp2p peer id (base58).
        peer_id: String,
    },
    /// Remove a validator.
    RemoveValidator {
        /// Its address.
        address: Address,
        /// Equivocation evidence against it, if that is the reason (checked on chain). Two
        /// signed statements: no message, block or transaction is nested inside (boxed only
        /// to keep the enum small).
        evidence: Option<Box<Evidence>>,
    },
    /// Allow an account to deploy contracts (the deploy policy must be an allowlist).
    AllowDeployer {
        /// The account.
        address: Address,
    },
    /// Stop allowing an account to deploy contracts.
    RevokeDeployer {
        /// The account.
        address: Address,
    },
    /// Change one consensus parameter (named as in genesis `params`).
    SetParam {
        /// The parameter's name, for example `block_interval_ms`.
        name: String,
        /// Its new value.
        value: u64,
    },
    /// Approve one migration of a contract whose admin is governance: once applied, any
    /// account may send the `Migrate` transaction with exactly this code hash and these
    /// arguments (it pays the gas; the approval is spent by it).
    MigrateContract {
        /// The contract.
        contract: Address,
        /// Hash of the new code.
        code_hash: Hash,
        /// JSON arguments of `migrate` (UTF-8), empty for none.
        args: Bytes,
    },
    /// Set or clear the admin of a contract whose admin is governance.
    SetContractAdmin {
        /// The contract.
        contract: Address,
        /// Its new admin (`None`: immutable from then on).
        admin: Option<Admin>,
    },
}

impl TxPayload {
    /// True if executing it stores code or creates a contract, which the chain's deploy
    /// policy restricts: deploys, instantiations, and migrations that bring their code.
    pub fn needs_deploy_permission(&self) -> bool {
        matches!(
            self,
            TxPayload::Deploy { .. }
                | TxPayload::Instantiate { .. }
                | TxPayload::Migrate { code: Some(_), .. }
        )
    }
}

impl Tx {
    /// The sender's address.
    pub fn sender_address(&self) -> Address {
        self.sender.address()
    }

    /// The hash that is signed: the domain-separated hash of the canonical encoding, which
    /// includes the chain id.
    pub fn signing_hash(&self) -> Hash {
        Hash::of(Domain::TxSign, self)
    }

    /// Signs this body with `key`. The key must be the sender's.
    pub fn sign(self, key: &SecretKey) -> SignedTx {
        let signature = key.sign(&self.signing_hash().0);
        SignedTx {
            tx: self,
            signature,
        }
    }
}

/// A transaction with its sender's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedTx {
    /// The body.
    pub tx: Tx,
    /// ed25519 signature by `tx.sender` over `tx.signing_hash()`.
    pub signature: Signature,
}

impl SignedTx {
    /// The transaction's id: the hash of its canonical signed encoding.
    pub fn hash(&self) -> Hash {
        Hash::of(Domain::Tx, self)
    }

    /// Canonical bytes (what `tx_submit` takes as base64).
    pub fn to_bytes(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    /// The length of [`SignedTx::to_bytes`], without encoding into memory.
    pub fn encoded_len(&self) -> usize {
        encoding::encoded_len(self)
    }

    /// Decodes untrusted bytes, at most [`MAX_TX_BYTES`].
    pub fn from_bytes(bytes: &[u8]) -> Result<SignedTx, TypesError> {
        encoding::decode_with_limit(bytes, MAX_TX_BYTES)
    }

    /// Checks everything that needs no state: chain id, sizes, method name, signature.
    pub fn verify(&self, chain_id: &str) -> Result<(), TypesError> {
        self.check_shape(chain_id)?;
        self.tx
            .sender
            .verify_zip215(&self.tx.signing_hash().0, &self.signature)
    }

    /// The checks of [`SignedTx::verify`] other than the signature itself.
    fn check_shape(&self, chain_id: &str) -> Result<(), TypesError> {
        if self.tx.chain_id != chain_id {
            return Err(TypesError::WrongChainId {
                expected: chain_id.to_string(),
                got: self.tx.chain_id.clone(),
            });
        }
        if let TxPayload::Call { method, .. } = &self.tx.payload
            && (method.is_empty()
                || method.len() > MAX_METHOD_LEN
                || !method
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        {
            return Err(TypesError::Decode(format!(
                "method name must be 1..={MAX_METHOD_LEN} characters of [A-Za-z0-9_]"
            )));
        }
        Ok(())
    }
}

/// Transactions per signature batch in [`verify_txs`]: large enough to get most of the
/// batch speed-up, small enough that one bad signature costs little to find.
pub const VERIFY_BATCH: usize = 64;

/// [`SignedTx::verify`] for many transactions at once, with the same result for each. The
/// signatures of those that pass the other checks are verified in batches of
/// [`VERIFY_BATCH`]; only in a batch that fails is each signature checked alone.
///
/// Batches are formed in sender order: a batch verifies each distinct key once (one point
/// decompression and one term of the multiscalar multiplication for all of that key's
/// signatures), so a sender's transactions are cheaper checked together. Which batch a
/// signature lands in changes nothing but the time.
pub fn verify_txs<'a>(
    txs: impl IntoIterator<Item = &'a SignedTx>,
    chain_id: &str,
) -> Vec<Result<(), TypesError>> {
    let txs: Vec<&SignedTx> = txs.into_iter().collect();
    let mut order: Vec<usize> = (0..txs.len()).collect();
    order.sort_by_key(|&i| txs[i].tx.sender.0);
    let mut results: Vec<Result<(), TypesError>> = vec![Ok(()); txs.len()];
    for chunk in order.chunks(VERIFY_BATCH) {
        let batch: Vec<&SignedTx> = chunk.iter().map(|&i| txs[i]).collect();
        for (&i, result) in chunk.iter().zip(verify_batch(&batch, chain_id)) {
            results[i] = result;
        }
    }
    results
}

fn verify_batch(txs: &[&SignedTx], chain_id: &str) -> Vec<Result<(), TypesError>> {
    let mut results: Vec<Result<(), TypesError>> =
        txs.iter().map(|tx| tx.check_shape(chain_id)).collect();
    let hashes: Vec<Option<Hash>> = txs
        .iter()
        .zip(&results)
        .map(|(tx, shape)| shape.is_ok().then(|| tx.tx.signing_hash()))
        .collect();
    let mut batch = SignatureBatch::new();
    for (tx, hash) in txs.iter().zip(&hashes) {
        if let Some(hash) = hash {
            batch.queue(&tx.tx.sender, &hash.0, &tx.signature);
        }
    }
    if batch.len() > 1 && batch.verify() {
        return results;
    }
    for ((tx, hash), result) in txs.iter().zip(&hashes).zip(results.iter_mut()) {
        if let Some(hash) = hash {
            *result = tx.tx.sender.verify_zip215(&hash.0, &tx.signature);
        }
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(key: &SecretKey, chain: &str) -> Tx {
        Tx {
            chain_id: chain.into(),
            sender: key.public_key(),
            nonce: 3,
            gas_limit: 1_000_000,
            payload: TxPayload::Call {
                contract: Address([5; 32]),
                method: "transfer".into(),
                args: Bytes(br#"{"to":"00","amount":"1"}"#.to_vec()),
            },
        }
    }

    #[test]
    fn sign_and_verify() {
        let key = SecretKey::from_seed([1; 32]);
        let stx = sample(&key, "test").sign(&key);
        assert!(stx.verify("test").is_ok());
        assert!(matches!(
            stx.verify("other"),
            Err(TypesError::WrongChainId { .. })
        ));
        let bytes = stx.to_bytes();
        assert_eq!(SignedTx::from_bytes(&bytes).unwrap(), stx);
    }

    #[test]
    fn tampering_breaks_signature() {
        let key = SecretKey::from_seed([1; 32]);
        let mut stx = sample(&key, "test").sign(&key);
        stx.tx.nonce += 1;
        assert_eq!(stx.verify("test"), Err(TypesError::InvalidSignature));
    }

    #[test]
    fn bad_method_name_rejected() {
        let key = SecretKey::from_seed([1; 32]);
        let mut tx = sample(&key, "test");
        tx.payload = TxPayload::Call {
            contract: Address([5; 32]),
            method: "no spaces".into(),
            args: Bytes::default(),
        };
        assert!(tx.sign(&key).verify("test").is_err());
    }

    /// A transaction "signed" for a small-order public key: the identity point as key and
    /// as R, with s = 0. ZIP-215's cofactored equation accepts it for any message, so such a
    /// key's account can be spent by anyone (it has no secret key; nobody holds one).
    fn small_order_tx(chain: &str) -> SignedTx {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let key = SecretKey::from_seed([9; 32]);
        let mut tx = sample(&key, chain);
        tx.sender = PublicKey(identity);
        let mut signature = [0u8; 64];
        signature[..32].copy_from_slice(&identity);
        SignedTx {
            tx,
            signature: Signature(signature),
        }
    }

    #[test]
    fn zip215_rule_for_transactions() {
        let key = SecretKey::from_seed([1; 32]);
        let good = sample(&key, "test").sign(&key);
        // Valid RFC 8032 signatures stay valid.
        assert!(good.verify("test").is_ok());
        // Cofactored: the small-order edge case is accepted (strict verification refuses it).
        let small = small_order_tx("test");
        assert!(small.verify("test").is_ok());
        assert!(
            small
                .tx
                .sender
                .verify(&small.tx.signing_hash().0, &small.signature)
                .is_err(),
            "consensus messages keep strict verification"
        );
        // s must be canonical: s + l (same point equation) is refused.
        let mut malleated = good.clone();
        let l: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut carry = 0u16;
        for (s, l) in malleated.signature.0[32..].iter_mut().zip(l) {
            let sum = *s as u16 + l as u16 + carry;
            *s = sum as u8;
            carry = sum >> 8;
        }
        assert_eq!(malleated.verify("test"), Err(TypesError::InvalidSignature));
    }

    #[test]
    fn batch_verification_agrees_with_single_verification() {
        let keys: Vec<SecretKey> = (0..150u8).map(|i| SecretKey::from_seed([i; 32])).collect();
        let mut txs: Vec<SignedTx> = keys.iter().map(|k| sample(k, "test").sign(k)).collect();
        // All good: one batch result per transaction, all Ok.
        assert!(verify_txs(&txs, "test").iter().all(Result::is_ok));
        // Every kind of failure, spread over several batches, plus the small-order edge case.
        txs[3].tx.nonce += 1; // tampered
        txs[70].signature = txs[71].signature; // someone else's signature
        txs[100].tx.chain_id = "other".into(); // wrong chain
        txs[101].tx.sender = PublicKey([0xff; 32]); // not a curve point
        txs[130] = small_order_tx("test");
        let batched = verify_txs(&txs, "test");
        let single: Vec<_> = txs.iter().map(|tx| tx.verify("test")).collect();
        assert_eq!(batched, single);
        let bad: Vec<usize> = (0..txs.len()).filter(|&i| batched[i].is_err()).collect();
        assert_eq!(bad, vec![3, 70, 100, 101]);
    }

    #[test]
    fn sender_batches_answer_each_transaction_in_place() {
        // Ten senders taking turns: batches are formed by sender, answers stay in tx order.
        let keys: Vec<SecretKey> = (0..10u8).map(|i| SecretKey::from_seed([i; 32])).collect();
        let mut txs: Vec<SignedTx> = (0..300)
            .map(|i| {
                let k = &keys[i % keys.len()];
                let mut tx = sample(k, "test");
                tx.nonce = i as u64;
                tx.sign(k)
            })
            .collect();
        txs[7].tx.nonce += 1000; // tampered
        txs[17].signature = txs[27].signature; // the same sender's signature of another tx
        txs[250].tx.chain_id = "other".into();
        let batched = verify_txs(&txs, "test");
        let single: Vec<_> = txs.iter().map(|tx| tx.verify("test")).collect();
        assert_eq!(batched, single);
        let bad: Vec<usize> = (0..txs.len()).filter(|&i| batched[i].is_err()).collect();
        assert_eq!(bad, vec![7, 17, 250]);
    }
}
