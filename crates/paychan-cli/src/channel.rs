//! `paychan channel open|pay|message|deposit|withdraw|close|list|info|auto-refill`, the
//! proposal decisions `paychan channel proposals|accept|reject` ([`crate::proposals`]), and
//! `paychan info`: clients of a running `paychan node`, through its JSON-RPC API.
//!
//! The API's URL and token come from the data directory (`rpc.listen` and `rpc.token_file`
//! of its `config.toml`), or from `--rpc URL --token-file FILE`. Output is a few lines for
//! humans, or with `--json` the API's answer as one JSON line (and on failure
//! `{"error": {category, code, message}}`, exit status 1). A spinner shows while waiting
//! for the peer or the ledger, and `close --wait` (or `channel wait`, re-attaching to a close
//! started without it) shows the challenge period passing. Ledger times are shown as UTC
//! dates with the time left ([`when`]).

use std::{
    io::IsTerminal,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, Result, anyhow, bail};
use indicatif::{ProgressBar, ProgressStyle};
use jsonrpsee::{
    core::{ClientError, client::ClientT},
    http_client::HttpClient,
};
use paychan_core::{Amount, ChannelId};
use paychan_rpc::{
    client::{self, Named},
    method,
    params::parse_amount,
    types::{ChannelView, CloseResult, NodeInfo, PayResult},
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::output::{errln, outln};
use crate::{
    config::{Config, data_dir, in_dir},
    when,
};

/// How to reach the node's API.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct ApiArgs {
    /// The node's data directory, to find the API's address and token (default:
    /// ~/.paychan, or ./paychan-data without a home).
    #[arg(long, global = true, env = "PAYCHAN_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The API's URL (default: from the data directory's config.toml).
    #[arg(long, global = true, value_name = "URL")]
    rpc: Option<String>,
    /// The file holding the API token (default: from the data directory).
    #[arg(long, global = true, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Print the API's answer as one JSON line instead of sentences.
    #[arg(long, global = true)]
    json: bool,
}

/// Options of `paychan channel`.
#[derive(clap::Args, Debug)]
pub(crate) struct ChannelArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: ChannelCommand,
}

/// Options of `paychan info`.
#[derive(clap::Args, Debug)]
pub(crate) struct InfoArgs {
    #[command(flatten)]
    pub(crate) api: ApiArgs,
}

#[derive(clap::Subcommand, Debug)]
enum ChannelCommand {
    /// Opens a channel with PEER (an address of a connected or configured peer, a contact's
    /// alias, or ADDRESS@HOST:PORT / ADDRESS@ws://HOST:PORT to dial) and deposits DEPOSIT.
    Open {
        /// The peer.
        peer: String,
        /// Our initial deposit (a whole number of the smallest unit; may be 0).
        #[arg(value_parser = amount)]
        deposit: Amount,
        /// Open on the ledger without asking the peer (it need not be online; it learns the
        /// channel from the first payment package).
        #[arg(long)]
        no_propose: bool,
    },
    /// Pays AMOUNT on CHANNEL for MESSAGE and prints the peer's response.
    Pay {
        /// The channel id.
        #[arg(value_parser = channel_id)]
        channel: ChannelId,
        /// The amount (a whole number, > 0).
        #[arg(value_parser = positive_amount)]
        amount: Amount,
        /// The message: JSON, or else taken as a string (default: null).
        message: Option<String>,
    },
    /// Sends MESSAGE on CHANNEL without payment and prints the peer's response.
    Message {
        /// The channel id.
        #[arg(value_parser = channel_id)]
        channel: ChannelId,
        /// The message: JSON, or else taken as a string.
        message: String,
    },
    /// Deposits AMOUNT more into our side of CHANNEL.
    Deposit {
        /// The channel id.
        #[arg(value_parser = channel_id)]
        channel: ChannelId,
        /// The amount (> 0).
        #[arg(value_parser = positive_amount)]
        amount: Amount,
    },
    /// Withdraws AMOUNT from our side of CHANNEL while it stays open (the peer co-signs).
    Withdraw {
        /// The channel id.
        #[arg(value_parser = channel_id)]
        channel: ChannelId,
        /// The amount (> 0).
        #[arg(value_parser = positive_amount)]
        amount: Amount,
    },
    /// Closes CHANNEL: cooperatively if the peer co-signs, otherwise unilaterally: the node
    /// settles after the challenge period (24 h by default, `challenge_period` in the
    /// config's [node] section); `--wait`, or later `channel wait`, shows it passing.
    Close {
        /// The channel id.
        #[arg(value_parser = channel_id)]
        channel: ChannelId,
        /// Close unilaterally without asking the peer.
        #[arg(long)]
        force: bool,
        /// After a unilateral close, wait until the channel is settled.
        #[arg(long)]
        wait: bool,
    },
    /// Waits until CHANNEL, closing unilaterally (`close` without `--wait`), is settled,
    /// with the same progress bar as `close --wait`.
    Wait {
        /// The channel id.
        #[arg(value_parser = channel_id)]
        channel: ChannelId,
    },
    /// Lists the channels (all, or those with --peer).
    List {
        /// Only the channels with this peer (an address or a contact's alias).
        #[arg(long)]
        peer: Option<String>,
    },
    /// Shows a channel's balances and status.
    Info {
        /// The channel id.
        #[arg(value_parser = channel_id)]
        channel: ChannelId,
    },
    /// Deposits AMOUNT whenever what we may spend on CHANNEL falls below THRESHOLD (0 0
    /// turns it off).
    AutoRefill {
        /// The channel id.
        #[arg(value_parser = channel_id)]
        channel: ChannelId,
        /// The threshold.
        #[arg(value_parser = amount)]
        threshold: Amount,
        /// The amount deposited.
        #[arg(value_parser = amount)]
        amount: Amount,
    },
    /// Lists the channel proposals waiting for our decision (a node with
    /// rpc.proposal_decisions = true), with the time left to decide each.
    Proposals,
    /// Accepts the channel proposal CHANNEL: the proposer then opens it on the ledger.
    Accept {
        /// The proposed channel's id (from `channel proposals`).
        #[arg(value_parser = channel_id)]
        channel: ChannelId,
    },
    /// Rejects the channel proposal CHANNEL.
    Reject {
        /// The proposed channel's id (from `channel proposals`).
        #[arg(value_parser = channel_id)]
        channel: ChannelId,
        /// Why, told to the proposer.
        #[arg(long)]
        reason: Option<String>,
    },
}

fn amount(s: &str) -> Result<Amount, String> {
    let digits: String = s.trim().chars().filter(|c| *c != '_').collect();
    parse_amount(&digits)
}

pub(crate) fn positive_amount(s: &str) -> Result<Amount, String> {
    match amount(s)? {
        0 => Err("the amount must be positive".into()),
        a => Ok(a),
    }
}

pub(crate) fn channel_id(s: &str) -> Result<ChannelId, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a channel id: expected 0x and 64 hex digits"))
}

/// A message argument: JSON if it parses, else a string, with a warning when it looks like
/// JSON that does not parse (a typo would otherwise travel as a string unnoticed).
pub(crate) fn message(text: &str) -> Value {
    match serde_json::from_str(text) {
        Ok(value) => value,
        Err(e) => {
            if looks_like_json(text) {
                errln!(
                    "warning: the message looks like JSON but does not parse ({e}): it is sent as a string"
                );
            }
            Value::String(text.to_owned())
        }
    }
}

/// Whether `text` starts like a JSON object or array, or is quoted like a JSON string.
fn looks_like_json(text: &str) -> bool {
    let text = text.trim();
    text.starts_with('{')
        || text.starts_with('[')
        || (text.len() > 1 && text.starts_with('"') && text.ends_with('"'))
}

/// A local error (no API answer) as `--json` prints it: `{"error": {category, message}}`.
fn print_local_error(e: &anyhow::Error) {
    outln!(
        "{}",
        json!({ "error": { "category": "local", "message": format!("{e:#}") } })
    );
}

/// A failed command: the API's error, or a local one.
pub(crate) enum Failure {
    Api(paychan_rpc::ErrorData),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Other(e)
    }
}

/// The connected API.
pub(crate) struct Api {
    client: HttpClient,
    url: String,
    pub(crate) json: bool,
}

/// The API's URL and token named by `args` (or by the data directory's config).
pub(crate) fn endpoint(args: &ApiArgs) -> Result<(String, String)> {
    let dir = data_dir(args.data_dir.as_deref());
    let config = if args.rpc.is_none() || args.token_file.is_none() {
        Some(Config::load(&dir)?)
    } else {
        None
    };
    let url = match (&args.rpc, &config) {
        (Some(url), _) => url.clone(),
        (None, Some(config)) => config.rpc_url(),
        (None, None) => bail!("no API URL: give --rpc or --data-dir"),
    };
    let token_path = match (&args.token_file, &config) {
        (Some(path), _) => path.clone(),
        (None, Some(config)) => in_dir(&dir, &config.rpc.token_file),
        (None, None) => bail!("no token: give --token-file or --data-dir"),
    };
    let token = read_token(&token_path)?;
    Ok((url, token))
}

impl Api {
    pub(crate) fn connect(args: &ApiArgs) -> Result<Api> {
        let (url, token) = endpoint(args)?;
        let client = client::http(&url, &token).map_err(|e| anyhow!("bad API URL {url:?}: {e}"))?;
        Ok(Api {
            client,
            url,
            json: args.json,
        })
    }

    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
    ) -> Result<T, Failure> {
        match self.client.request::<T, _>(method, Named(params)).await {
            Ok(answer) => Ok(answer),
            Err(e) => Err(match client::paychan_error(&e) {
                Some(data) => Failure::Api(data),
                None => Failure::Other(transport_error(&self.url, &e)),
            }),
        }
    }

    /// Calls with a spinner saying `waiting` (for humans on a terminal).
    async fn call_waiting<T: DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
        waiting: &str,
    ) -> Result<T, Failure> {
        let spinner = self.spinner(waiting);
        let call = self.call(method, params);
        tokio::pin!(call);
        // While the call waits on the ledger, show its transactions' depth ("2/3"), read
        // from `node_info` twice a second (only when the spinner is shown).
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        let answer = loop {
            tokio::select! {
                answer = &mut call => break answer,
                _ = tick.tick(), if !spinner.is_hidden() => {
                    if let Ok(info) = self.call::<NodeInfo>(method::NODE_INFO, json!({})).await {
                        let progress: Vec<String> =
                            info.pending_transactions.iter().map(crate::info::describe_pending).collect();
                        spinner.set_message(if progress.is_empty() {
                            waiting.to_owned()
                        } else {
                            format!("{waiting} ({})", progress.join(", "))
                        });
                    }
                }
            }
        };
        spinner.finish_and_clear();
        answer
    }

    fn spinner(&self, message: &str) -> ProgressBar {
        if self.json || !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let spinner = ProgressBar::new_spinner();
        spinner.set_message(message.to_owned());
        spinner.enable_steady_tick(Duration::from_millis(100));
        spinner
    }
}

fn read_token(path: &Path) -> Result<String> {
    let token = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the API token {}", path.display()))?;
    Ok(token.trim().to_owned())
}

fn transport_error(url: &str, e: &ClientError) -> anyhow::Error {
    match e {
        ClientError::Transport(inner) => {
            let text = inner.to_string();
            if text.contains("401") {
                anyhow!(
                    "the node's API at {url} refused the token (is --token-file the node's rpc.token?)"
                )
            } else {
                anyhow!(
                    "cannot reach the node's API at {url}: {text}\n(is `paychan node` running?)"
                )
            }
        }
        ClientError::RequestTimeout => anyhow!("the node's API at {url} did not answer in time"),
        other => anyhow!("the node's API at {url} failed: {other}"),
    }
}

/// Runs `paychan channel ...`.
pub(crate) fn run(args: &ChannelArgs) -> Result<()> {
    with_api(&args.api, |api| async move {
        command(&api, &args.command).await
    })
}

/// Connects to the API and runs `work` on a single-threaded runtime, reporting its failure
/// the way the output mode asks.
pub(crate) fn with_api<F, Fut>(args: &ApiArgs, work: F) -> Result<()>
where
    F: FnOnce(std::rc::Rc<Api>) -> Fut,
    Fut: std::future::Future<Output = Result<(), Failure>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let api = match Api::connect(args) {
            Ok(api) => std::rc::Rc::new(api),
            Err(e) => {
                if args.json {
                    print_local_error(&e);
                }
                return Err(e);
            }
        };
        let result = work(api.clone()).await;
        finish(&api, result)
    })
}

/// Reports a failure the way the output mode asks.
pub(crate) fn finish(api: &Api, result: Result<(), Failure>) -> Result<()> {
    match result {
        Ok(()) => Ok(()),
        Err(Failure::Other(e)) => {
            if api.json {
                print_local_error(&e);
            }
            Err(e)
        }
        Err(Failure::Api(data)) => {
            if api.json {
                outln!("{}", json!({ "error": data }));
                bail!("{}", data.message);
            }
            let category = format!("{:?}", data.category).to_lowercase();
            bail!("{} (code {}, {category} error)", data.message, data.code)
        }
    }
}

pub(crate) fn print_json(value: &impl serde::Serialize) -> Result<(), Failure> {
    outln!(
        "{}",
        serde_json::to_string(value).map_err(anyhow::Error::from)?
    );
    Ok(())
}

/// Prints `c`, with the ledger's time when it has a deadline (to say the time left).
async fn show_channel(api: &Api, c: &ChannelView) {
    let now = match c.deadline {
        Some(_) => api
            .call::<NodeInfo>(method::NODE_INFO, json!({}))
            .await
            .ok()
            .and_then(|info| info.ledger_time),
        None => None,
    };
    print_channel(c, now);
}

fn print_channel(c: &ChannelView, now: Option<u64>) {
    let b = &c.balances;
    outln!("channel {}", c.channel_id);
    outln!("  peer          {} (we are {})", c.peer, c.role);
    outln!("  status        {}", c.status);
    outln!(
        "  available     {} (peer: {})",
        b.my_available,
        b.peer_available
    );
    outln!(
        "  deposited     {} (peer: {})",
        b.my_deposit,
        b.peer_deposit
    );
    outln!(
        "  paid          {} (received: {})",
        b.paid_by_me,
        b.paid_by_peer
    );
    if let Some(p) = &c.expected_payouts {
        outln!("  payout now    {} (peer: {})", p.mine, p.peer);
    }
    if let Some(deadline) = c.deadline {
        outln!("  settles after {}", when::deadline(deadline, now));
    }
    if c.unclaimed != "0" {
        outln!(
            "  unclaimed     {} (our payout the ledger could not deliver: `paychan eth claim`)",
            c.unclaimed
        );
    }
    if let Some(r) = &c.auto_refill {
        outln!("  auto-refill   {} when below {}", r.amount, r.threshold);
    }
}

fn print_response(response: &Value) {
    match response {
        Value::String(s) => outln!("response: {s}"),
        other => outln!("response: {other}"),
    }
}

async fn command(api: &Api, command: &ChannelCommand) -> Result<(), Failure> {
    match command {
        ChannelCommand::Open {
            peer,
            deposit,
            no_propose,
        } => {
            let channel: ChannelView = api
                .call_waiting(
                    method::OPEN_CHANNEL,
                    json!({ "peer": peer, "deposit": deposit.to_string(), "propose": !no_propose }),
                    "waiting for the peer to accept and the ledger to open the channel…",
                )
                .await?;
            if api.json {
                return print_json(&channel);
            }
            outln!(
                "opened {} with {} (deposit {deposit})",
                channel.channel_id,
                channel.peer
            );
            show_channel(api, &channel).await;
        }
        ChannelCommand::Pay {
            channel,
            amount,
            message: text,
        } => {
            let body = text.as_deref().map_or(Value::Null, message);
            let paid: PayResult = api
                .call_waiting(
                    method::PAY,
                    json!({ "channel_id": channel, "amount": amount.to_string(), "message": body }),
                    "waiting for the peer's response…",
                )
                .await?;
            if api.json {
                return print_json(&paid);
            }
            outln!("paid {amount} on {channel}");
            print_response(&paid.response);
        }
        ChannelCommand::Message {
            channel,
            message: text,
        } => {
            let answered: PayResult = api
                .call_waiting(
                    method::SEND_MESSAGE,
                    json!({ "channel_id": channel, "message": message(text) }),
                    "waiting for the peer's response…",
                )
                .await?;
            if api.json {
                return print_json(&answered);
            }
            print_response(&answered.response);
        }
        ChannelCommand::Deposit { channel, amount } => {
            let view: ChannelView = api
                .call_waiting(
                    method::DEPOSIT,
                    json!({ "channel_id": channel, "amount": amount.to_string() }),
                    "waiting for the ledger…",
                )
                .await?;
            if api.json {
                return print_json(&view);
            }
            outln!("deposited {amount} into {channel}");
            show_channel(api, &view).await;
        }
        ChannelCommand::Withdraw { channel, amount } => {
            let view: ChannelView = api
                .call_waiting(
                    method::WITHDRAW,
                    json!({ "channel_id": channel, "amount": amount.to_string() }),
                    "waiting for the peer's signature and the ledger…",
                )
                .await?;
            if api.json {
                return print_json(&view);
            }
            outln!("withdrew {amount} from {channel}");
            show_channel(api, &view).await;
        }
        ChannelCommand::Close {
            channel,
            force,
            wait,
        } => {
            let closed: CloseResult = api
                .call_waiting(
                    method::CLOSE,
                    json!({ "channel_id": channel, "force": force }),
                    if *force {
                        "starting the close on the ledger…"
                    } else {
                        "asking the peer to co-sign…"
                    },
                )
                .await?;
            let settled = if !closed.cooperative && *wait {
                Some(wait_settled(api, *channel, &closed.channel).await?)
            } else {
                None
            };
            if api.json {
                return match settled {
                    Some(view) => print_json(&CloseResult {
                        cooperative: false,
                        channel: view,
                    }),
                    None => print_json(&closed),
                };
            }
            if closed.cooperative {
                outln!("closed {channel} cooperatively: paid out");
            } else {
                outln!("started a unilateral close of {channel}");
            }
            show_channel(api, settled.as_ref().unwrap_or(&closed.channel)).await;
            if !closed.cooperative && settled.is_none() {
                outln!(
                    "the node settles it after the deadline; `paychan channel wait {channel}` waits for it"
                );
            }
        }
        ChannelCommand::Wait { channel } => {
            let view: ChannelView = api
                .call(method::CHANNEL_INFO, json!({ "channel_id": channel }))
                .await?;
            let settled = match view.status.as_str() {
                "closed" => view,
                "closing" => wait_settled(api, *channel, &view).await?,
                other => {
                    return Err(Failure::Other(anyhow!(
                        "channel {channel} is {other}, not closing: start a close with `paychan channel close`"
                    )));
                }
            };
            if api.json {
                return print_json(&settled);
            }
            outln!("{channel} is settled");
            show_channel(api, &settled).await;
        }
        ChannelCommand::List { peer } => {
            let params = match peer {
                Some(peer) => json!({ "peer": peer }),
                None => json!({}),
            };
            let channels: Vec<ChannelView> = api.call(method::LIST_CHANNELS, params).await?;
            if api.json {
                return print_json(&channels);
            }
            if channels.is_empty() {
                outln!("no channels");
            } else {
                outln!(
                    "{:<66}  {:<42}  {:<9} {:<14} {:>20}  {:>10}  {:>10}",
                    "CHANNEL",
                    "PEER",
                    "ROLE",
                    "STATUS",
                    "AVAILABLE",
                    "PAID",
                    "RECEIVED"
                );
            }
            for c in &channels {
                outln!(
                    "{}  {}  {:<9} {:<14} {:>20}  {:>10}  {:>10}",
                    c.channel_id,
                    c.peer,
                    c.role.to_string(),
                    c.status,
                    c.balances.my_available,
                    c.balances.paid_by_me,
                    c.balances.paid_by_peer
                );
            }
        }
        ChannelCommand::Proposals => crate::proposals::list(api).await?,
        ChannelCommand::Accept { channel } => crate::proposals::accept(api, *channel).await?,
        ChannelCommand::Reject { channel, reason } => {
            crate::proposals::reject(api, *channel, reason.as_deref()).await?;
        }
        ChannelCommand::Info { channel } => {
            let view: ChannelView = api
                .call(method::CHANNEL_INFO, json!({ "channel_id": channel }))
                .await?;
            if api.json {
                return print_json(&view);
            }
            show_channel(api, &view).await;
        }
        ChannelCommand::AutoRefill {
            channel,
            threshold,
            amount,
        } => {
            let view: ChannelView = api
                .call(
                    method::SET_AUTO_REFILL,
                    json!({ "channel_id": channel, "threshold": threshold.to_string(), "amount": amount.to_string() }),
                )
                .await?;
            if api.json {
                return print_json(&view);
            }
            show_channel(api, &view).await;
        }
    }
    Ok(())
}

/// Waits until the node has settled `channel`, with a bar over the challenge period.
async fn wait_settled(
    api: &Api,
    channel: ChannelId,
    closing: &ChannelView,
) -> Result<ChannelView, Failure> {
    let deadline = closing.deadline.unwrap_or(0);
    let start: NodeInfo = api.call(method::NODE_INFO, json!({})).await?;
    let begin = start.ledger_time.unwrap_or(deadline);
    let bar = if api.json || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new(deadline.saturating_sub(begin).max(1));
        if let Ok(style) = ProgressStyle::with_template("{spinner} challenge period {bar:40} {msg}")
        {
            bar.set_style(style);
        }
        bar.set_message(format!("ends {}", when::deadline(deadline, Some(begin))));
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    };
    loop {
        let view: ChannelView = api
            .call(method::CHANNEL_INFO, json!({ "channel_id": channel }))
            .await?;
        if view.status == "closed" {
            bar.finish_and_clear();
            return Ok(view);
        }
        let info: NodeInfo = api.call(method::NODE_INFO, json!({})).await?;
        if let Some(now) = info.ledger_time {
            bar.set_position(now.saturating_sub(begin));
            bar.set_message(if now >= deadline {
                "settling…".to_owned()
            } else {
                format!("ends {}", when::deadline(deadline, Some(now)))
            });
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
