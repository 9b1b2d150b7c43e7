//! `paychan package create|verify|cancel`: payment packages through a running node's API — a
//! payment carried outside the peer connection (an HTTP header, a file, a message queue).

use anyhow::Result;
use paychan_core::{Amount, ChannelId};
use paychan_rpc::{
    method,
    types::{ChannelView, CreatedPackage, VerifiedPaymentView},
};
use serde_json::json;

use crate::channel::{
    ApiArgs, Failure, channel_id, message, positive_amount, print_json, with_api,
};
use crate::output::outln;

/// Options of `paychan package`.
#[derive(clap::Args, Debug)]
pub(crate) struct PackageArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: PackageCommand,
}

#[derive(clap::Subcommand, Debug)]
enum PackageCommand {
    /// Pays AMOUNT on CHANNEL by a package and prints it in its compact (base64url) form;
    /// the payment counts as made from now on.
    Create {
        /// The channel id.
        #[arg(value_parser = channel_id)]
        channel: ChannelId,
        /// The amount (> 0).
        #[arg(value_parser = positive_amount)]
        amount: Amount,
        /// The message paid for, carried in the package: JSON, or else a string.
        message: Option<String>,
    },
    /// Verifies PACKAGE (compact form or JSON) paid to this node and records it.
    Verify {
        /// The package.
        package: String,
    },
    /// Takes back PACKAGE, our latest on its channel, after the payee refused it: the next
    /// package does not pay for it too.
    Cancel {
        /// The package (compact form or JSON).
        package: String,
    },
}

/// Runs `paychan package ...`.
pub(crate) fn run(args: &PackageArgs) -> Result<()> {
    with_api(&args.api, |api| async move {
        match &args.command {
            PackageCommand::Create {
                channel,
                amount,
                message: text,
            } => {
                let params = match text {
                    Some(text) => json!({
                        "channel_id": channel,
                        "amount": amount.to_string(),
                        "message": message(text),
                    }),
                    None => json!({ "channel_id": channel, "amount": amount.to_string() }),
                };
                let created: CreatedPackage =
                    api.call(method::CREATE_PAYMENT_PACKAGE, params).await?;
                if api.json {
                    return print_json(&created);
                }
                outln!("{}", created.compact);
            }
            PackageCommand::Verify { package } => {
                let verified: VerifiedPaymentView = api
                    .call(
                        method::VERIFY_PAYMENT_PACKAGE,
                        json!({ "package": package.trim() }),
                    )
                    .await?;
                if api.json {
                    return print_json(&verified);
                }
                outln!(
                    "accepted {} from {} on channel {} ({} paid in all, {} left to spend)",
                    verified.amount,
                    verified.payer,
                    verified.channel_id,
                    verified.cumulative,
                    verified.remaining
                );
                if let Some(message) = &verified.message {
                    outln!("message: {message}");
                }
            }
            PackageCommand::Cancel { package } => {
                let channel: ChannelView = api
                    .call(
                        method::CANCEL_PAYMENT_PACKAGE,
                        json!({ "package": package.trim() }),
                    )
                    .await?;
                if api.json {
                    return print_json(&channel);
                }
                outln!(
                    "taken back: channel {} has {} paid to the peer, {} left to spend",
                    channel.channel_id,
                    channel.balances.paid_by_me,
                    channel.balances.my_available
                );
            }
        }
        Ok::<(), Failure>(())
    })
}
