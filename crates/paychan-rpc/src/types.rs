//! What the methods answer: plain serde types, amounts as decimal strings, shared by the
//! server and by clients (the `paychan channel` commands parse answers with them).

use paychan_core::{Address, Amount, ChannelId, Role};
use paychan_node::{ChannelInfo, Contact, PaymentPackage, VerifiedPayment};
use serde::{Deserialize, Serialize};

/// The version of this API (`node_info.rpc_version`); grows when methods change shape.
pub const RPC_VERSION: u32 = 1;

/// Writes an amount as a decimal string.
pub fn amount_string(amount: Amount) -> String {
    amount.to_string()
}

/// A channel proposal waiting for the user's decision (`list_proposals`, notification
/// `proposal`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalView {
    /// The channel it would open: what `accept_proposal` / `reject_proposal` name.
    pub channel_id: ChannelId,
    /// The proposer.
    pub peer: Address,
    /// What the proposer deposits at open, as a decimal string.
    pub deposit: String,
    /// The asset: zero for the ledger's native asset.
    pub token: Address,
    /// The challenge period, in seconds.
    pub challenge_period: u64,
    /// When it arrived, in milliseconds since the Unix epoch.
    pub received_at_ms: u64,
    /// When it is rejected if undecided, in milliseconds since the Unix epoch.
    pub expires_at_ms: u64,
}

impl From<&paychan_node::decisions::PendingProposal> for ProposalView {
    fn from(p: &paychan_node::decisions::PendingProposal) -> Self {
        ProposalView {
            channel_id: p.channel_id,
            peer: p.peer,
            deposit: amount_string(p.deposit),
            token: p.token,
            challenge_period: p.challenge_period,
            received_at_ms: p.received_at_ms,
            expires_at_ms: p.expires_at_ms,
        }
    }
}

/// `create_payment_package`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreatedPackage {
    /// The package as a JSON object.
    pub package: PaymentPackage,
    /// The same, base64url-encoded for an HTTP header.
    pub compact: String,
}

/// `create_token`: the token's text (shown only here) and what it may do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreatedToken {
    /// The bearer token to give to the client.
    pub token: String,
    /// Its scopes and limit.
    pub info: crate::tokens::TokenInfo,
}

/// `verify_payment_package`: what the package paid.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerifiedPaymentView {
    /// The channel.
    pub channel_id: ChannelId,
    /// The payer.
    pub payer: Address,
    /// What this package added to the payer's total.
    pub amount: String,
    /// The payer's total after it.
    pub cumulative: String,
    /// What the payer may still spend in the channel.
    pub remaining: String,
    /// The voucher's memo (keccak256 of the message).
    pub memo: paychan_core::B256,
    /// The message, if the package carried it.
    pub message: Option<serde_json::Value>,
}

impl From<&VerifiedPayment> for VerifiedPaymentView {
    fn from(v: &VerifiedPayment) -> Self {
        VerifiedPaymentView {
            channel_id: v.channel_id,
            payer: v.payer,
            amount: v.amount.to_string(),
            cumulative: v.cumulative.to_string(),
            remaining: v.remaining.to_string(),
            memo: v.memo,
            message: v.message.clone(),
        }
    }
}

/// A contact (`add_contact`, `get_contact`, `list_contacts`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactView {
    /// The alias.
    pub alias: String,
    /// The peer's address.
    pub address: Address,
    /// Where to reach the peer, if known.
    pub peer_url: Option<String>,
}

impl From<&Contact> for ContactView {
    fn from(c: &Contact) -> Self {
        ContactView {
            alias: c.alias.clone(),
            address: c.address,
            peer_url: c.peer_url.clone(),
        }
    }
}

/// `node_info`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// The node's address.
    pub address: Address,
    /// The ledger's EIP-712 domain.
    pub ledger: LedgerInfo,
    /// [`RPC_VERSION`].
    pub rpc_version: u32,
    /// The paychan version of the node.
    pub node_version: String,
    /// Where peers reach this node (`ADDRESS@HOST:PORT`, `ADDRESS@ws://HOST:PORT`), if it
    /// listens.
    pub listen: Vec<String>,
    /// The node's balance of the native asset on the ledger (`null` if unknown).
    pub balance: Option<String>,
    /// The ledger's time in seconds (`null` if unknown).
    pub ledger_time: Option<u64>,
    /// What the ledger holds for the node from payouts it could not deliver, in the native
    /// asset (claimable with `paychan eth claim`; `null` if unknown).
    pub unclaimed: Option<String>,
    /// How many peers are connected now.
    #[serde(default)]
    pub connected_peers: u64,
    /// The node's channels, counted and summed.
    #[serde(default)]
    pub channels: ChannelTotals,
    /// The ledger transactions the node sent that are not final yet, with their depth
    /// (`confirmations` of `required`); empty on a ledger whose operations are final at once.
    #[serde(default)]
    pub pending_transactions: Vec<paychan_ledger::types::PendingTransaction>,
}

/// The channels of [`NodeInfo`]: how many in each phase, and what is available in the open
/// ones.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelTotals {
    /// Every channel the node knows, closed ones included.
    pub total: u64,
    /// Open channels.
    pub open: u64,
    /// Channels proposed or being opened on the ledger.
    pub opening: u64,
    /// Channels closing (a unilateral close in its challenge period).
    pub closing: u64,
    /// What we may pay or withdraw, summed over the open channels (a decimal string).
    pub my_available: String,
    /// What the peers may pay or withdraw, summed over the open channels.
    pub peer_available: String,
}

/// The ledger part of [`NodeInfo`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerInfo {
    /// The chain id of the domain.
    pub chain_id: u64,
    /// The adjudicator (verifying contract) of the domain.
    pub verifying_contract: Address,
}

/// A channel's balances, from this node's side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalancesView {
    /// What we may still pay or withdraw.
    pub my_available: String,
    /// What the peer may still pay or withdraw.
    pub peer_available: String,
    /// Everything we paid the peer.
    pub paid_by_me: String,
    /// Everything the peer paid us.
    pub paid_by_peer: String,
    /// Our total deposit.
    pub my_deposit: String,
    /// The peer's total deposit.
    pub peer_deposit: String,
    /// Our deposits sent to the ledger and not yet applied (not part of `my_deposit` until
    /// they are).
    #[serde(default)]
    pub my_pending_deposit: String,
}

/// What each party would get if the channel were settled now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutsView {
    /// Our payout.
    pub mine: String,
    /// The peer's payout.
    pub peer: String,
}

/// Auto-refill settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoRefillView {
    /// Refill when what we may spend falls below this.
    pub threshold: String,
    /// Deposit this much.
    pub amount: String,
}

/// A channel (`channel_info`, `list_channels`, and the results of commands).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelView {
    /// The channel id.
    pub channel_id: ChannelId,
    /// The peer's address.
    pub peer: Address,
    /// Our role: `A` opened the channel, `B` was invited.
    pub role: Role,
    /// `proposed`, `open`, `settling`, `close requested`, `closing`, `closed`.
    pub status: String,
    /// Balances from our side.
    pub balances: BalancesView,
    /// What the settlement formula gives each party now (`null` once closed).
    pub expected_payouts: Option<PayoutsView>,
    /// During a unilateral close: the ledger time after which it can be settled.
    pub deadline: Option<u64>,
    /// Auto-refill, if set.
    pub auto_refill: Option<AutoRefillView>,
    /// Our payout of this channel that the ledger could not deliver and that is not claimed
    /// yet (`"0"` normally).
    pub unclaimed: String,
}

impl From<&ChannelInfo> for ChannelView {
    fn from(info: &ChannelInfo) -> Self {
        let b = &info.balances;
        ChannelView {
            channel_id: info.channel_id,
            peer: info.peer,
            role: info.role,
            status: info.status.clone(),
            balances: BalancesView {
                my_available: amount_string(b.my_available),
                peer_available: amount_string(b.peer_available),
                paid_by_me: amount_string(b.paid_by_me),
                paid_by_peer: amount_string(b.paid_by_peer),
                my_deposit: amount_string(b.my_deposit),
                peer_deposit: amount_string(b.peer_deposit),
                my_pending_deposit: amount_string(info.pending_deposit),
            },
            expected_payouts: info.expected_payouts.map(|p| PayoutsView {
                mine: amount_string(*p.get(info.role)),
                peer: amount_string(*p.get(info.role.peer())),
            }),
            deadline: info.deadline,
            unclaimed: amount_string(info.unclaimed),
            auto_refill: info.auto_refill.map(|(threshold, amount)| AutoRefillView {
                threshold: amount_string(threshold),
                amount: amount_string(amount),
            }),
        }
    }
}

/// `pay` and `send_message`: the peer's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PayResult {
    /// The peer's response, any JSON value.
    pub response: serde_json::Value,
}

/// `close`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloseResult {
    /// Whether the peer co-signed and the channel is paid out already; `false` means a
    /// unilateral close started and the node settles it after `channel.deadline`.
    pub cooperative: bool,
    /// The channel after it.
    pub channel: ChannelView,
}

/// `getBalancesAndStatus`: the aa-channels fields beside [`ChannelView`]'s (which include
/// `status`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalancesAndStatus {
    /// Our total deposit.
    pub amount_deposited_by_me: String,
    /// Everything we paid.
    pub amount_spent_by_me: String,
    /// Everything the peer paid us.
    pub amount_spent_by_peer: String,
    /// What we may still spend.
    pub free_amount: String,
    /// Our deposits sent to the ledger and not yet applied (`balances.my_pending_deposit`).
    pub my_deposits: String,
    /// The full view.
    #[serde(flatten)]
    pub channel: ChannelView,
}

impl From<ChannelView> for BalancesAndStatus {
    fn from(channel: ChannelView) -> Self {
        BalancesAndStatus {
            amount_deposited_by_me: channel.balances.my_deposit.clone(),
            amount_spent_by_me: channel.balances.paid_by_me.clone(),
            amount_spent_by_peer: channel.balances.paid_by_peer.clone(),
            free_amount: channel.balances.my_available.clone(),
            my_deposits: channel.balances.my_pending_deposit.clone(),
            channel,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use paychan_core::channel::Balances;

    use super::*;

    #[test]
    fn my_deposits_is_what_is_on_its_way_to_the_ledger() {
        let info = ChannelInfo {
            channel_id: ChannelId::default(),
            peer: Address::ZERO,
            role: Role::A,
            status: "open".into(),
            balances: Balances {
                my_available: 1_000,
                peer_available: 0,
                paid_by_me: 0,
                paid_by_peer: 0,
                my_deposit: 1_000,
                peer_deposit: 0,
            },
            expected_payouts: None,
            deadline: None,
            auto_refill: None,
            unclaimed: 0,
            pending_deposit: 250,
            close_started_by: None,
        };
        let view = ChannelView::from(&info);
        assert_eq!(view.balances.my_pending_deposit, "250");
        let aa = BalancesAndStatus::from(view);
        assert_eq!(
            (aa.my_deposits.as_str(), aa.amount_deposited_by_me.as_str()),
            ("250", "1000")
        );
    }
}
