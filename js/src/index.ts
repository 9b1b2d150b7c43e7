// paychan for the browser and Node: pay per HTTP call over payment channels
// (docs/HTTP.md). Call `await init()` once, then `fetchWithPayment` or a `Payer`.
export { init, wasmUrl, PayerChannel } from "./wasm.js";
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
