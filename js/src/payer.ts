// Paying HTTP calls on `402 Payment Required` (docs/HTTP.md), the browser's counterpart of
// paychan-http's PayingClient. The protocol (keys, channel state, packages, which refusals
// are taken back) is paychan-wasm's; this file does the IO: fetch, the ledger, the store,
// and one paid request per channel at a time.

import { LedgerClient, LedgerRpcError } from "./ledger.js";
import { type ChannelStore, MemoryStore } from "./store.js";
import {
  PayerChannel,
  Wallet as WasmWallet,
  authorization,
  parseChallenge,
  parseReceipt,
  refusalTakesBack,
  requestBinding,
} from "./wasm.js";

/** An amount: a bigint, a decimal string or a safe integer. */
export type AmountLike = bigint | string | number;

function toAmount(value: AmountLike, name: string): bigint {
  const amount = BigInt(value);
  if (amount < 0n) throw new RangeError(`${name} must not be negative`);
  return amount;
}

/** The `402` challenge, as paychan-wasm reads it. */
export interface Challenge {
  price: bigint;
  payee: string;
  chainId: number;
  contract: string;
  node?: string;
  /** The header value (or 402 body) it was read from. */
  text: string;
}

/** A `Payment-Receipt`: the payee's record of the call. */
export interface Receipt {
  channelId: string;
  payer: string;
  amount: bigint;
  cumulative: bigint;
  remaining: bigint;
  request: string;
  signed: boolean;
}

/** What a call answered. */
export interface PaidResponse {
  response: Response;
  /** The receipt, if the call was paid and the payee sent one. */
  receipt: Receipt | null;
  /** What this call paid (0 if it needed no payment or was refused and taken back). */
  paid: bigint;
}

/** A payee refused the payment twice, or its outcome is unknown. */
export class PaymentError extends Error {
  constructor(
    message: string,
    readonly code: string,
    /** Whether the payment stays counted (the payee may have recorded it). */
    readonly counted: boolean,
  ) {
    super(message);
    this.name = "PaymentError";
  }
}

export interface PayerOptions {
  /** The payer's key. */
  wallet: Wallet;
  /** The ledger's JSON-RPC URL (`paychan ledger serve`). */
  ledgerUrl: string;
  /** The most this payer pays in all, over every channel in its store. */
  budget: AmountLike;
  /** A new channel's deposit (default: the budget); never more than the budget left. */
  deposit?: AmountLike;
  /** Refuse prices above this (default: the budget). */
  maxPrice?: AmountLike;
  /** A new channel's challenge period in seconds (default 86 400, the node's default). */
  challengePeriod?: number;
  /** Where channel state is kept (default: in memory). */
  store?: ChannelStore;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
}

/** A payer's key, over paychan-wasm. */
export class Wallet {
  private constructor(readonly inner: WasmWallet) {}

  /** A new key from 32 bytes of `crypto.getRandomValues`. */
  static generate(): Wallet {
    return new Wallet(WasmWallet.fromEntropy(randomBytes(32)));
  }

  /** The key whose secret is these 32 bytes (`secret()`). */
  static fromSecret(secret: Uint8Array): Wallet {
    return new Wallet(WasmWallet.fromSecret(secret));
  }

  secret(): Uint8Array {
    return this.inner.secret();
  }

  get address(): string {
    return this.inner.address;
  }
}

function randomBytes(n: number): Uint8Array {
  const bytes = new Uint8Array(n);
  globalThis.crypto.getRandomValues(bytes);
  return bytes;
}

/** One lock per channel: a channel carries one paid request at a time (docs/HTTP.md). */
class Lock {
  private tail: Promise<void> = Promise.resolve();

  async run<T>(f: () => Promise<T>): Promise<T> {
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise((resolve) => (release = resolve));
    await previous;
    try {
      return await f();
    } finally {
      release();
    }
  }
}

interface Slot {
  channel: PayerChannel;
  lock: Lock;
}

function sumPaid(slots: Map<string, Slot>): bigint {
  let total = 0n;
  for (const slot of slots.values()) total += BigInt(slot.channel.paid);
  return total;
}

/** Pays calls on `402` within a budget; holds the channels (loaded from the store). */
export class Payer {
  readonly wallet: Wallet;
  readonly ledger: LedgerClient;
  readonly store: ChannelStore;
  readonly budget: bigint;
  private readonly deposit: bigint;
  private readonly maxPrice: bigint;
  private readonly challengePeriod: number;
  private readonly fetchFn: typeof fetch;
  private slots: Promise<Map<string, Slot>> | undefined;
  /** Known prices by `METHOD url`: later calls pay at once, without the 402 round trip. */
  private readonly prices = new Map<string, Challenge>();
  private readonly ledgerLock = new Lock();
  private readonly openLock = new Lock();

  constructor(options: PayerOptions) {
    this.wallet = options.wallet;
    this.fetchFn = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.ledger = new LedgerClient(options.ledgerUrl, this.fetchFn);
    this.store = options.store ?? new MemoryStore();
    this.budget = toAmount(options.budget, "budget");
    this.deposit = toAmount(options.deposit ?? this.budget, "deposit");
    this.maxPrice = toAmount(options.maxPrice ?? this.budget, "maxPrice");
    this.challengePeriod = options.challengePeriod ?? 86_400;
  }

  private loadSlots(): Promise<Map<string, Slot>> {
    this.slots ??= (async () => {
      const slots = new Map<string, Slot>();
      for (const state of await this.store.load()) {
        const channel = PayerChannel.fromJSON(state);
        slots.set(channel.id, { channel, lock: new Lock() });
      }
      return slots;
    })();
    return this.slots;
  }

  /** The channels, as stored. */
  async channels(): Promise<PayerChannel[]> {
    return [...(await this.loadSlots()).values()].map((s) => s.channel);
  }

  /** Everything paid over every channel (what counts against the budget). */
  async spent(): Promise<bigint> {
    return sumPaid(await this.loadSlots());
  }

  /** Sends the request, paying if the server asks for payment. */
  async fetch(input: string | URL, init: RequestInit = {}): Promise<PaidResponse> {
    const url = new URL(String(input), globalThis.location?.href);
    const method = (init.method ?? "GET").toUpperCase();
    const path = url.pathname + url.search;
    const key = `${method} ${url.origin}${path}`;
    let challenge = this.prices.get(key);
    if (!challenge) {
      const response = await this.fetchFn(url, init);
      if (response.status !== 402) return { response, receipt: null, paid: 0n };
      challenge = await this.challengeOf(response);
    }
    // At most one more attempt: after a refusal naming a new price.
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.payAndSend(url, init, method, path, challenge);
      if ("response" in outcome) {
        this.prices.set(key, challenge);
        return outcome;
      }
      this.prices.delete(key);
      if (outcome.next && outcome.next.price !== challenge.price && attempt < 2) {
        challenge = outcome.next;
        continue;
      }
      return { response: outcome.refused, receipt: null, paid: 0n };
    }
  }

  private async challengeOf(response: Response, body?: string): Promise<Challenge> {
    const header = response.headers.get("www-authenticate");
    let text = header ?? body ?? (await response.clone().text());
    let parsed: { price: string; payee: string; chain_id: number; contract: string; node?: string };
    try {
      parsed = JSON.parse(parseChallenge(text));
    } catch (e) {
      // A header of several challenges, or none: the body carries the same fields.
      text = body ?? (await response.clone().text());
      parsed = JSON.parse(parseChallenge(text));
    }
    const challenge: Challenge = {
      price: BigInt(parsed.price),
      payee: parsed.payee,
      chainId: parsed.chain_id,
      contract: parsed.contract,
      node: parsed.node,
      text,
    };
    if (challenge.price > this.maxPrice) {
      throw new PaymentError(
        `the price ${challenge.price} is above the most this payer pays per call (${this.maxPrice})`,
        "too_expensive",
        false,
      );
    }
    return challenge;
  }

  /** Pays `challenge` and sends the request; answers the response, or the refusal (its
   * package taken back) with the challenge it names. */
  private async payAndSend(
    url: URL,
    init: RequestInit,
    method: string,
    path: string,
    challenge: Challenge,
  ): Promise<PaidResponse | { refused: Response; next: Challenge | null }> {
    // A channel found with enough left may be spent by a concurrent call before its lock is
    // ours: then look again (another channel, or a new one within the budget).
    for (;;) {
      const slot = await this.channelFor(challenge);
      const outcome = await slot.lock.run(() =>
        BigInt(slot.channel.available) < challenge.price
          ? Promise.resolve(null)
          : this.payOn(slot.channel, url, init, method, path, challenge),
      );
      if (outcome) return outcome;
    }
  }

  /** `payAndSend` on `channel`, whose lock the caller holds. */
  private async payOn(
    channel: PayerChannel,
    url: URL,
    init: RequestInit,
    method: string,
    path: string,
    challenge: Challenge,
  ): Promise<PaidResponse | { refused: Response; next: Challenge | null }> {
    const slots = await this.loadSlots();
    // Checked and signed in one synchronous step: no other call spends in between.
    const spent = sumPaid(slots);
    if (spent + challenge.price > this.budget) {
      throw new PaymentError(
        `the budget ${this.budget} is spent (${spent} paid; this call costs ${challenge.price})`,
        "budget_exhausted",
        false,
      );
    }
    const compact = this.wallet.inner.pay(channel, String(challenge.price), requestBinding(method, path));
    try {
      await this.store.save(channel.id, channel.toJSON());
    } catch (e) {
      channel.cancel(compact);
      throw e;
    }
    const headers = new Headers(init.headers);
    headers.set("authorization", authorization(compact));
    let response: Response;
    try {
      response = await this.fetchFn(url, { ...init, headers });
    } catch (e) {
      // Sent or not, nobody can tell: the payment stays counted, never paid twice.
      throw new PaymentError(`the paid call failed: ${String(e)}`, "outcome_unknown", true);
    }
    if ([402, 429, 502, 503].includes(response.status)) {
      const body = await response.text();
      const rebuilt = new Response(body, { status: response.status, headers: response.headers });
      if (refusalTakesBack(body)) {
        channel.cancel(compact);
        await this.store.save(channel.id, channel.toJSON());
        let next: Challenge | null = null;
        try {
          next = await this.challengeOf(rebuilt.clone(), body);
        } catch {
          next = null;
        }
        return { refused: rebuilt, next };
      }
      throw new PaymentError(
        `the payee answered ${response.status} and may have recorded the payment: ${body.slice(0, 200)}`,
        "outcome_unknown",
        true,
      );
    }
    const header = response.headers.get("payment-receipt");
    let receipt: Receipt | null = null;
    if (header) {
      const r = JSON.parse(parseReceipt(header));
      receipt = {
        ...r,
        amount: BigInt(r.amount),
        cumulative: BigInt(r.cumulative),
        remaining: BigInt(r.remaining),
      };
    }
    return { response, receipt, paid: challenge.price };
  }

  /** An open channel to the challenge's payee with enough left, or a new one. */
  private async channelFor(challenge: Challenge): Promise<Slot> {
    const find = async () => {
      for (const slot of (await this.loadSlots()).values()) {
        const ch = slot.channel;
        const ledger = JSON.parse(ch.ledger) as { chainId: number; verifyingContract: string };
        if (
          ch.isOpen &&
          ch.payee.toLowerCase() === challenge.payee.toLowerCase() &&
          ledger.chainId === challenge.chainId &&
          ledger.verifyingContract.toLowerCase() === challenge.contract.toLowerCase() &&
          BigInt(ch.available) >= challenge.price
        ) {
          return slot;
        }
      }
      return undefined;
    };
    const found = await find();
    if (found) return found;
    // One opening at a time: concurrent first calls share the channel it opens.
    return this.openLock.run(async () => (await find()) ?? this.open(challenge));
  }

  /** Opens a channel on the ledger to the challenge's payee, within the budget. */
  private async open(challenge: Challenge): Promise<Slot> {
    const domain = await this.ledger.domain();
    if (
      domain.chainId !== challenge.chainId ||
      domain.verifyingContract.toLowerCase() !== challenge.contract.toLowerCase()
    ) {
      throw new PaymentError(
        `the payee is on ledger ${challenge.chainId}/${challenge.contract}, not ours (${domain.chainId}/${domain.verifyingContract})`,
        "other_ledger",
        false,
      );
    }
    let committed = 0n;
    for (const slot of (await this.loadSlots()).values()) {
      // What a channel may still pay counts as committed: the budget bounds deposits too.
      committed += BigInt(slot.channel.paid) + (slot.channel.isOpen ? BigInt(slot.channel.available) : 0n);
    }
    const left = this.budget - committed;
    const deposit = this.deposit < left ? this.deposit : left;
    if (deposit < challenge.price) {
      throw new PaymentError(
        `the budget ${this.budget} leaves ${left > 0n ? left : 0n} for a new channel, the call costs ${challenge.price}`,
        "budget_exhausted",
        false,
      );
    }
    const channel = this.wallet.inner.proposeChannel(challenge.text, this.challengePeriod, randomBytes(32));
    // Stored before the ledger sees it: a crash after the open leaves a channel we know.
    await this.store.save(channel.id, channel.toJSON());
    const slot: Slot = { channel, lock: new Lock() };
    (await this.loadSlots()).set(channel.id, slot);
    try {
      const receipt = await this.submit((nonce) => this.wallet.inner.openRequest(channel, String(deposit), nonce));
      channel.applyReceipt(receipt);
    } catch (e) {
      if (e instanceof LedgerRpcError && e.isFinal) {
        (await this.loadSlots()).delete(channel.id);
        await this.store.remove(channel.id);
      }
      throw e;
    }
    await this.store.save(channel.id, channel.toJSON());
    return slot;
  }

  /** Signs (with the account's next nonce) and submits a ledger request; answers the
   * response text. One submission at a time, so nonces never collide. */
  submit(sign: (nonce: string) => string): Promise<string> {
    return this.ledgerLock.run(async () => {
      const nonce = (await this.ledger.nonce(this.wallet.address)) + 1n;
      return this.ledger.submit(sign(String(nonce)));
    });
  }

  /** Pays out `channel` after its close deadline (anyone may; the payee's node usually
   * does). Answers the ledger's response text. */
  async settle(channel: PayerChannel): Promise<string> {
    const receipt = await this.submit((nonce) => this.wallet.inner.settleRequest(channel, nonce));
    channel.applyReceipt(receipt);
    await this.store.save(channel.id, channel.toJSON());
    return receipt;
  }
}

const payers = new WeakMap<Wallet, Map<string, Payer>>();

export interface FetchWithPaymentOptions extends PayerOptions {
  /** The request's options, as for `fetch`. */
  init?: RequestInit;
}

/**
 * `fetch` that pays on `402`: on first contact it opens a channel on the ledger (its deposit
 * within `budget`), then pays each call with a package for its price and retries. Never pays
 * more than `budget` in all; a refused call's package is taken back. Calls with the same
 * wallet, ledger and store share one `Payer` (its channels and known prices).
 */
export function fetchWithPayment(
  url: string | URL,
  options: FetchWithPaymentOptions,
): Promise<PaidResponse> {
  let byWallet = payers.get(options.wallet);
  if (!byWallet) {
    byWallet = new Map();
    payers.set(options.wallet, byWallet);
  }
  // Without a store, the wallet's calls on this ledger share one in-memory store.
  const storeKey = `${options.ledgerUrl} ${options.store ? storeId(options.store) : 0}`;
  let payer = byWallet.get(storeKey);
  if (!payer) {
    payer = new Payer(options);
    byWallet.set(storeKey, payer);
  }
  return payer.fetch(url, options.init);
}

const storeIds = new WeakMap<ChannelStore, number>();
let nextStoreId = 1;

function storeId(store: ChannelStore): number {
  let id = storeIds.get(store);
  if (id === undefined) {
    id = nextStoreId++;
    storeIds.set(store, id);
  }
  return id;
}
