// paychan for the browser and Node: pay per HTTP call over payment channels
// (docs/HTTP.md), and a full channel peer (`Client`) to a node or through a relay.
// Call `await init()` once, then `fetchWithPayment`, a `Payer` or a `Client`.
export { init, wasmUrl, PayerChannel } from "./wasm.js";
export {
  type ChannelSummary,
  type ClientOptions,
  type IncomingPayment,
  type PaymentHandler,
  ChannelPaymentError,
  Client,
} from "./client.js";
export { LedgerClient, LedgerRpcError, type LedgerDomain } from "./ledger.js";
export { type ChannelStore, MemoryStore, IndexedDbStore } from "./store.js";
export {
  type AmountLike,
  type Challenge,
  type FetchWithPaymentOptions,
  type PaidResponse,
  type PayerOptions,
  type Receipt,
  Payer,
  PaymentError,
  Wallet,
  fetchWithPayment,
} from "./payer.js";
