//! A non-fungible token: the deployer mints, holders transfer.
#![no_std]

use phalanx_sdk::prelude::*;

const MINTER: Item<Address> = Item::new(b"m");
const NAME: Item<String> = Item::new(b"n");
const OWNERS: Map<u64, Address> = Map::new(b"o");
/// (holder, token id) -> true: the index behind `tokens_of`.
const HELD: Map<(Address, u64), bool> = Map::new(b"h");

errors! {
    /// NFT errors.
    pub enum NftError {
        /// Only the deployer may mint.
        NotMinter = 1100 => "only the minter may mint",
        /// The token id is taken.
        AlreadyMinted = 1101 => "token already minted",
        /// No such token.
        NotFound = 1102 => "no such token",
        /// The caller does not hold the token.
        NotOwner = 1103 => "caller does not own the token",
    }
}

/// A token changed hands (`from` is the zero address on mint).
#[event("transfer")]
#[derive(Serialize, Deserialize)]
pub struct Transfer {
    /// Previous holder.
    pub from: Address,
    /// New holder.
    pub to: Address,
    /// The token.
    pub token_id: u64,
}

fn set_owner(from: Address, to: Address, token_id: u64) {
    if from != Address::ZERO {
        HELD.remove(&(from, token_id));
    }
    OWNERS.save(&token_id, &to);
    HELD.save(&(to, token_id), &true);
    Transfer { from, to, token_id }.emit();
}

/// The NFT contract.
pub struct Nft;

#[contract(errors(NftError), events(Transfer))]
impl Nft {
    /// Names the collection; the caller becomes the minter.
    #[init]
    pub fn init(name: Option<String>) {
        MINTER.save(&caller());
        NAME.save(&name.unwrap_or_default());
    }

    /// Mints `token_id` to `to` (minter only).
    pub fn mint(to: Address, token_id: u64) -> Result<(), ContractError> {
        ensure!(MINTER.get() == Some(caller()), NftError::NotMinter);
        ensure!(!OWNERS.contains(&token_id), NftError::AlreadyMinted);
        set_owner(Address::ZERO, to, token_id);
        Ok(())
    }

    /// Gives `token_id` to `to` (holder only).
    pub fn transfer(to: Address, token_id: u64) -> Result<(), ContractError> {
        let owner = OWNERS.get(&token_id).ok_or(NftError::NotFound)?;
        ensure!(owner == caller(), NftError::NotOwner);
        set_owner(owner, to, token_id);
        Ok(())
    }

    /// The holder of `token_id`.
    #[query]
    pub fn owner_of(token_id: u64) -> Result<Address, ContractError> {
        Ok(OWNERS.get(&token_id).ok_or(NftError::NotFound)?)
    }

    /// The token ids `owner` holds, ascending.
    #[query]
    pub fn tokens_of(owner: Address) -> Vec<u64> {
        HELD.iter_prefix(&owner).map(|((_, id), _)| id).collect()
    }

    /// The collection name.
    #[query]
    pub fn name() -> String {
        NAME.load()
    }
}
