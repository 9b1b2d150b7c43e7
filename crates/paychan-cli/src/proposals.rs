//! `paychan channel proposals|accept|reject`: the channel proposals a node with
//! `rpc.proposal_decisions = true` holds for its user, listed with the time left to decide
//! them, and the decisions (docs/API.md, "Deciding channel proposals").

use paychan_core::ChannelId;
use paychan_rpc::{method, types::ProposalView};
use serde_json::json;

use crate::{
    channel::{Api, Failure, print_json},
    output::outln,
    when,
};

/// `paychan channel proposals`.
pub(crate) async fn list(api: &Api) -> Result<(), Failure> {
    let proposals: Vec<ProposalView> = api.call(method::LIST_PROPOSALS, json!({})).await?;
    if api.json {
        return print_json(&proposals);
    }
    if proposals.is_empty() {
        outln!("no proposals waiting for a decision");
        return Ok(());
    }
    let now = crate::when::now();
    for p in &proposals {
        outln!("proposal {}", p.channel_id);
        outln!("  from          {}", p.peer);
        outln!("  their deposit {}", p.deposit);
        if !p.token.is_zero() {
            outln!("  token         {}", p.token);
        }
        outln!("  challenge     {}", when::span(p.challenge_period));
        outln!(
            "  decide before {} (rejected then)",
            when::deadline(p.expires_at_ms / 1000, Some(now))
        );
    }
    Ok(())
}

/// `paychan channel accept ID`.
pub(crate) async fn accept(api: &Api, channel: ChannelId) -> Result<(), Failure> {
    let done: bool = api
        .call(method::ACCEPT_PROPOSAL, json!({ "channel_id": channel }))
        .await?;
    if api.json {
        return print_json(&json!({ "accepted": done, "channel_id": channel }));
    }
    outln!("accepted {channel}: the proposer opens it on the ledger now");
    Ok(())
}

/// `paychan channel reject ID [--reason TEXT]`.
pub(crate) async fn reject(
    api: &Api,
    channel: ChannelId,
    reason: Option<&str>,
) -> Result<(), Failure> {
    let done: bool = api
        .call(
            method::REJECT_PROPOSAL,
            json!({ "channel_id": channel, "reason": reason }),
        )
        .await?;
    if api.json {
        return print_json(&json!({ "rejected": done, "channel_id": channel }));
    }
    outln!("rejected {channel}");
    Ok(())
}
