// A full channel peer in the browser: `Client` speaks the node's peer protocol over a
// WebSocket, to a node directly (`ADDRESS@ws(s)://HOST/PATH`) or through `paychan relay`
// (`ADDRESS@relay+ws(s)://HOST/PATH`). The protocol is paychan-wasm's `Peer` (the node's
// Noise handshake and frames, paychan-core's channel and manager); this file does the IO:
// the WebSocket and its reconnects, the store, the ledger's JSON-RPC, timers, and the
// promises and events the application sees. Its rule is the node's: the channel states
// `Peer` hands out are stored (durably) before the messages that depend on them are sent.

import { LedgerClient } from "./ledger.js";
import type { AmountLike, Wallet } from "./payer.js";
import { type ChannelStore, MemoryStore } from "./store.js";
import { Peer, dialTarget, relayControl, relayRegisterUrl, relayTicketUrl } from "./wasm.js";

/** One channel as the client sees it (amounts as decimal strings). */
export interface ChannelSummary {
  id: string;
  peer: string;
  role: "A" | "B";
  phase: string;
  myDeposit: string;
  peerDeposit: string;
  paidByMe: string;
  paidByPeer: string;
  myAvailable: string;
  peerAvailable: string;
  sequence: number;
}

/** A payment to us, for the handler. */
export interface IncomingPayment {
  channelId: string;
  peer: string;
  amount: bigint;
  message: unknown;
}

/** Answers a payment to us: a response (any JSON) keeps it; throwing refuses it. */
export type PaymentHandler = (payment: IncomingPayment) => unknown | Promise<unknown>;

/** A payment that did not go through, or whose outcome is unknown. */
export class ChannelPaymentError extends Error {
  constructor(
    message: string,
    /** The peer's error code (0: the connection ended before an answer). */
    readonly code: number,
    /** Whether the payment stays counted (the peer may have kept it; the counter sync of
     * the next connection gives it the voucher if not). */
    readonly counted: boolean,
  ) {
    super(message);
    this.name = "ChannelPaymentError";
  }
}

export interface ClientOptions {
  /** Our key. */
  wallet: Wallet;
  /** The ledger's JSON-RPC URL (`paychan ledger serve`, or a same-origin forward of it). */
  ledgerUrl: string;
  /** Where channel states are kept (default: in memory; `IndexedDbStore` in a page). */
  store?: ChannelStore;
  /** Answers payments to us (default: refuse them). */
  handler?: PaymentHandler;
  /** Keep-alive period in ms (default 15 000; the node closes after three silent ones). */
  keepaliveMs?: number;
  /** Reconnect backoff in ms: first delay and cap (default 100 and 5 000). */
  backoffMs?: [number, number];
  /** The WebSocket class (default: the global one). */
  WebSocket?: typeof WebSocket;
}

type Waiter = { resolve: (value: unknown) => void; reject: (error: Error) => void };

function random32(): Uint8Array {
  const bytes = new Uint8Array(32);
  globalThis.crypto.getRandomValues(bytes);
  return bytes;
}

/** Runs tasks one at a time, in order. */
class Queue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const next = this.tail.then(task, task);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/**
 * A channel peer. Events (an `EventTarget`; each a `CustomEvent` whose `detail` is the
 * event's JSON): `connected`, `disconnected`, `registered` (at a relay), `paid`, `refused`, `paymentUnknown`,
 * `payment`, `received`, `declined`, `ledger`, `synced`, `peerError`, `error`.
 */
export class Client extends EventTarget {
  readonly ledger: LedgerClient;
  readonly store: ChannelStore;
  private readonly peer: Peer;
  private socket: WebSocket | undefined;
  private control: WebSocket | undefined;
  private target: { address: string; url: string; relay: boolean } | undefined;
  private readonly payments = new Map<number, Waiter>();
  private readonly waits = new Map<string, Waiter[]>();
  private readonly lanes = new Map<string, Queue>();
  private readonly ledgerLane = new Queue();
  private pumping: Promise<void> | undefined;
  private again = false;
  private backoff: number;
  private keepalive: ReturnType<typeof setInterval> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private up: { promise: Promise<void>; resolve: () => void } = Client.deferred();
  /** Connections made (the first one and every reconnect). */
  connections = 0;

  private constructor(
    readonly wallet: Wallet,
    domain: { chainId: number; verifyingContract: string },
    private readonly options: ClientOptions,
  ) {
    super();
    this.ledger = new LedgerClient(options.ledgerUrl);
    this.store = options.store ?? new MemoryStore();
    this.peer = new Peer(wallet.inner, String(domain.chainId), domain.verifyingContract);
    this.backoff = options.backoffMs?.[0] ?? 100;
  }

  private static deferred(): { promise: Promise<void>; resolve: () => void } {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    return { promise, resolve };
  }

  /** A client on the ledger of `options.ledgerUrl`, with the channels of its store loaded. */
  static async create(options: ClientOptions): Promise<Client> {
    const ledger = new LedgerClient(options.ledgerUrl);
    const client = new Client(options.wallet, await ledger.domain(), options);
    for (const state of await client.store.load()) client.peer.restore(state);
    return client;
  }

  /** Connects to `peer` (`ADDRESS@ws(s)://…` or `ADDRESS@relay+ws(s)://…`) and keeps the
   * connection: redials with backoff whenever it (or the relay) drops. Resolves once the
   * handshake proved the peer's address. */
  async connect(peer: string): Promise<void> {
    this.target = JSON.parse(dialTarget(peer));
    this.closed = false;
    this.dial();
    await this.up.promise;
  }

  /** Our address. */
  get address(): string {
    return this.peer.address;
  }

  /** Whether the handshake with the peer is done on the current connection. */
  get isConnected(): boolean {
    return this.peer.connected !== undefined;
  }

  /** Resolves when connected (at once if already). */
  ready(): Promise<void> {
    return this.up.promise;
  }

  /** Every channel. */
  channels(): ChannelSummary[] {
    return JSON.parse(this.peer.channels());
  }

  /** One channel. */
  channel(id: string): ChannelSummary {
    return JSON.parse(this.peer.channel(id));
  }

  /** Proposes a channel to the connected peer with `deposit` from us, then, once it
   * accepted, opens it on the ledger; resolves with its id once the ledger's receipt is
   * applied and stored. */
  async openChannel(deposit: AmountLike, { challengePeriod = 86_400 } = {}): Promise<string> {
    await this.ready();
    const amount = BigInt(deposit).toString();
    const id = this.peer.propose(amount, challengePeriod, random32());
    const answered = this.wait(`proposal:${id}`);
    this.pump();
    await answered;
    await this.submit((nonce) => this.peer.openRequest(id, amount, nonce));
    const channel = this.channel(id);
    if (channel.phase !== "open") throw new Error(`channel ${id} is ${channel.phase} after opening`);
    return id;
  }

  /** Pays `amount` on channel `id` for `message` (any JSON) and resolves with the peer's
   * response; one payment per channel at a time (later calls wait their turn). Rejects
   * with a `ChannelPaymentError` (`counted` says whether it stays paid). */
  pay(id: string, amount: AmountLike, message: unknown): Promise<unknown> {
    let lane = this.lanes.get(id);
    if (!lane) this.lanes.set(id, (lane = new Queue()));
    return lane.run(async () => {
      await this.ready();
      const requestId = this.peer.pay(id, BigInt(amount).toString(), JSON.stringify(message ?? null));
      const answered = new Promise((resolve, reject) => this.payments.set(requestId, { resolve, reject }));
      this.pump();
      return answered;
    });
  }

  /** Withdraws `amount` from channel `id` while it stays open (co-signed by the peer, then
   * executed on the ledger). */
  async withdraw(id: string, amount: AmountLike, { validitySeconds = 600 } = {}): Promise<void> {
    const lane = this.lanes.get(id) ?? new Queue();
    this.lanes.set(id, lane);
    await lane.run(async () => {
      await this.ready();
      const now = Math.floor(Date.now() / 1000);
      const signed = this.wait(`cosigned:${id}`);
      this.peer.withdraw(id, BigInt(amount).toString(), now + validitySeconds, now);
      this.pump();
      try {
        await signed;
      } catch (e) {
        this.peer.cancelWithdrawal(id);
        this.pump();
        throw e;
      }
      await this.submit((nonce) => this.peer.cosignedRequest(id, nonce));
    });
  }

  /** Closes channel `id` cooperatively: both sign the counters, the ledger pays out at
   * once. Resolves when the channel is closed and stored. */
  async close(id: string): Promise<ChannelSummary> {
    const lane = this.lanes.get(id) ?? new Queue();
    this.lanes.set(id, lane);
    return lane.run(async () => {
      await this.ready();
      const signed = this.wait(`cosigned:${id}`);
      this.peer.close(id);
      this.pump();
      await signed;
      await this.submit((nonce) => this.peer.cosignedRequest(id, nonce));
      return this.channel(id);
    });
  }

  /** Stops: closes the connection and stops reconnecting (channels stay stored). */
  async disconnect(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.keepalive);
    this.control?.close();
    this.socket?.close();
    await this.pumping;
  }

  /** Signs a ledger request with the next ledger nonce, submits it, applies the receipt;
   * resolves once the channel states it changed are stored. */
  private submit(request: (nonce: string) => string): Promise<void> {
    return this.ledgerLane.run(async () => {
      const nonce = (await this.ledger.nonce(this.address)) + 1n;
      const receipt = await this.ledger.submit(request(nonce.toString()));
      this.peer.applyReceipt(receipt);
      await this.pump();
    });
  }

  private wait(key: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const list = this.waits.get(key) ?? [];
      list.push({ resolve, reject });
      this.waits.set(key, list);
    });
  }

  private settle(key: string, error?: Error, value?: unknown): void {
    const list = this.waits.get(key);
    if (!list) return;
    this.waits.delete(key);
    for (const w of list) (error ? w.reject(error) : w.resolve(value));
  }

  private dial(): void {
    const target = this.target;
    if (!target || this.closed) return;
    this.attach(target.url, () => this.peer.dial(target.address, random32(), random32()), () => {
      const cap = this.options.backoffMs?.[1] ?? 5_000;
      this.reconnectTimer = setTimeout(() => this.dial(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, cap);
    });
  }

  /** Makes `url` the connection to the peer: `start` runs the handshake's first step once
   * the WebSocket is open, `ended` runs when it closes (unless the client was closed). */
  private attach(url: string, start: () => void, ended: () => void): void {
    const Ws = this.options.WebSocket ?? globalThis.WebSocket;
    const socket = new Ws(url);
    socket.binaryType = "arraybuffer";
    const previous = this.socket;
    this.socket = socket;
    previous?.close();
    socket.onopen = () => {
      if (this.socket !== socket) return;
      try {
        start();
      } catch (e) {
        this.emit("error", { message: String(e) });
        socket.close();
      }
      this.pump();
    };
    socket.onmessage = (event: MessageEvent) => {
      if (this.socket !== socket) return;
      if (typeof event.data === "string") return;
      try {
        this.peer.receive(new Uint8Array(event.data as ArrayBuffer));
      } catch (e) {
        this.emit("error", { message: String(e) });
        socket.close();
      }
      this.pump();
    };
    socket.onclose = (ev: CloseEvent) => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      clearInterval(this.keepalive);
      this.peer.disconnected();
      this.pump();
      if (!this.closed) ended();
    };
  }

  /** Makes this client reachable through `paychan relay` at `relay` (`ws(s)://HOST/PATH`,
   * with `?token=` if the relay wants one): registers there under our address by signing
   * its challenge, and accepts each dialer's connection (the newest replaces the current
   * one). Registers again with backoff whenever the control connection ends. Resolves once
   * registered; a peer then reaches us as `ADDRESS@relay+ws(s)://HOST/PATH`. */
  listen(relay: string): Promise<void> {
    this.closed = false;
    const host = new URL(relay).hostname.replace(/^\[|\]$/g, "");
    let registered!: () => void;
    const done = new Promise<void>((resolve) => (registered = resolve));
    let delay = this.options.backoffMs?.[0] ?? 100;
    const register = () => {
      if (this.closed) return;
      const Ws = this.options.WebSocket ?? globalThis.WebSocket;
      const control = new Ws(relayRegisterUrl(relay));
      this.control = control;
      control.onmessage = (event: MessageEvent) => {
        if (typeof event.data !== "string") return;
        try {
          const answer = JSON.parse(relayControl(this.wallet.inner, host, event.data));
          if (answer.reply) control.send(answer.reply);
          if (answer.registered) {
            delay = this.options.backoffMs?.[0] ?? 100;
            this.emit("registered", { relay });
            registered();
          }
          if (answer.ticket) {
            this.attach(relayTicketUrl(relay, answer.ticket), () => this.peer.accept(random32(), random32()), () => {});
          }
        } catch (e) {
          this.emit("error", { message: String(e) });
          control.close();
        }
      };
      control.onclose = () => {
        if (this.control !== control || this.closed) return;
        setTimeout(register, delay);
        delay = Math.min(delay * 2, this.options.backoffMs?.[1] ?? 5_000);
      };
    };
    register();
    return done;
  }

  /** Stores what the peer hands out, then sends what waited for it, then reports events;
   * again while anything is left. Resolves when all is done. */
  private pump(): Promise<void> {
    if (this.pumping) {
      this.again = true;
      return this.pumping;
    }
    const run = (async () => {
      // Never synchronously: `pumping` is set before the first round.
      await null;
      try {
        do {
          this.again = false;
          const records: { id: string; state: string | null }[] = JSON.parse(this.peer.takeRecords());
          if (records.length > 0) {
            if (this.store.saveMany) await this.store.saveMany(records);
            else {
              for (const r of records) {
                if (r.state === null) await this.store.remove(r.id);
                else await this.store.save(r.id, r.state);
              }
            }
            this.peer.recordsSaved();
            this.again = true;
          }
          for (let m = this.peer.nextTransmit(); m !== undefined; m = this.peer.nextTransmit()) {
            if (this.socket?.readyState === 1) this.socket.send(m);
          }
          const events: Record<string, unknown>[] = JSON.parse(this.peer.takeEvents());
          for (const event of events) await this.handle(event);
          if (events.length > 0) this.again = true;
        } while (this.again);
      } catch (e) {
        this.emit("error", { message: String(e) });
      }
    })();
    // Cleared only once the run is over (never synchronously inside it); a call that came
    // after its last round starts another.
    this.pumping = run.finally(() => {
      this.pumping = undefined;
      if (this.again) void this.pump();
    });
    return this.pumping;
  }

  private emit(type: string, detail: unknown): void {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  private async handle(event: Record<string, unknown>): Promise<void> {
    const type = event.type as string;
    const id = event.channelId as string | undefined;
    switch (type) {
      case "connected":
        this.connections++;
        this.backoff = this.options.backoffMs?.[0] ?? 100;
        clearInterval(this.keepalive);
        this.keepalive = setInterval(() => {
          this.peer.keepalive();
          this.pump();
        }, this.options.keepaliveMs ?? 15_000);
        this.up.resolve();
        break;
      case "disconnected":
        this.up = Client.deferred();
        for (const [key] of this.waits) {
          if (key.startsWith("proposal:") || key.startsWith("cosigned:")) {
            this.settle(key, new Error("the connection ended before the peer answered"));
          }
        }
        break;
      case "accepted":
        this.settle(`proposal:${id}`, undefined, event);
        break;
      case "rejected":
        this.settle(`proposal:${id}`, new Error(`the peer refused the channel: ${event.reason}`));
        break;
      case "cosigned":
        this.settle(`cosigned:${id}`, undefined, event);
        break;
      case "cosignRefused":
        this.settle(`cosigned:${id}`, new Error(`the peer did not sign: ${event.message}`));
        break;
      case "peerError":
        if (id) this.settle(`cosigned:${id}`, new Error(`the peer refused: ${event.message}`));
        break;
      case "paid":
      case "refused":
      case "paymentUnknown": {
        const waiter = this.payments.get(event.requestId as number);
        this.payments.delete(event.requestId as number);
        if (type === "paid") waiter?.resolve(event.response);
        else if (type === "refused")
          waiter?.reject(new ChannelPaymentError(String(event.message), Number(event.code), false));
        else
          waiter?.reject(
            new ChannelPaymentError("the connection ended before the peer answered", 0, true),
          );
        break;
      }
      case "payment":
        void this.answer(event);
        break;
      case "needsLedger":
        void this.ledgerLane.run(async () => {
          const { text } = await this.ledger.callRaw("ledger_channel", JSON.stringify({ channelId: id }));
          this.peer.applyLedgerRecord(id as string, text);
          await this.pump();
        });
        break;
    }
    this.emit(type, event);
  }

  /** Asks the handler about a payment to us and answers the peer. */
  private async answer(event: Record<string, unknown>): Promise<void> {
    const handler = this.options.handler;
    const paymentId = event.id as number;
    try {
      if (!handler) throw new Error("this client takes no payments");
      const response = await handler({
        channelId: event.channelId as string,
        peer: event.peer as string,
        amount: BigInt(event.amount as string),
        message: event.message,
      });
      this.peer.answerPayment(paymentId, JSON.stringify(response ?? null), undefined);
    } catch (e) {
      this.peer.answerPayment(paymentId, undefined, e instanceof Error ? e.message : String(e));
    }
    await this.pump();
  }
}
