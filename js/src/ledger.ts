// The embedded ledger's JSON-RPC (docs/LEDGER.md, `paychan ledger serve`), as far as a payer
// needs it: the domain, its account's nonce and balance, submitting signed requests.
// Requests are signed by paychan-wasm; this only carries their JSON. Amounts travel as JSON
// integers: results that hold amounts are kept as text for the WebAssembly side to read.

/** A JSON-RPC error from the ledger: `code` is the ledger's stable code (-32010 refused by
 * the ledger rules, ..., -32014 unavailable), `data` the ledger's error as JSON. */
export class LedgerRpcError extends Error {
  constructor(
    message: string,
    readonly code: number,
    readonly data: unknown,
  ) {
    super(message);
    this.name = "LedgerRpcError";
  }

  /** Whether the same call would fail again (everything but "unavailable", -32014). */
  get isFinal(): boolean {
    return this.code !== -32014;
  }
}

/** The ledger's domain: what signatures are made under. */
export interface LedgerDomain {
  chainId: number;
  verifyingContract: string;
}

export class LedgerClient {
  private nextId = 1;

  constructor(
    readonly url: string,
    private readonly fetchFn: typeof fetch = globalThis.fetch.bind(globalThis),
  ) {}

  /** Calls `method` with `params` (JSON text, by name); answers the raw response text and
   * its parsed form. Throws a `LedgerRpcError` for an error answer. */
  async callRaw(method: string, params: string): Promise<{ text: string; result: unknown }> {
    const id = this.nextId++;
    const body = `{"jsonrpc":"2.0","id":${id},"method":${JSON.stringify(method)},"params":${params}}`;
    const response = await this.fetchFn(this.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    const text = await response.text();
    let parsed: { result?: unknown; error?: { code: number; message: string; data?: unknown } };
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new LedgerRpcError(`the ledger answered ${response.status}: ${text.slice(0, 200)}`, -32014, null);
    }
    if (parsed.error) {
      throw new LedgerRpcError(parsed.error.message, parsed.error.code, parsed.error.data ?? null);
    }
    return { text, result: parsed.result };
  }

  async call<T>(method: string, params: object = {}): Promise<T> {
    return (await this.callRaw(method, JSON.stringify(params))).result as T;
  }

  domain(): Promise<LedgerDomain> {
    return this.call("ledger_domain");
  }

  /** The last nonce the ledger accepted from `account` (0 if none). */
  async nonce(account: string): Promise<bigint> {
    const { text } = await this.callRaw("ledger_nonce", JSON.stringify({ account }));
    return BigInt(resultDigits(text));
  }

  /** `owner`'s balance of the native asset. */
  async balance(owner: string): Promise<bigint> {
    const { text } = await this.callRaw("ledger_balance", JSON.stringify({ owner }));
    return BigInt(resultDigits(text));
  }

  /** Submits a signed request (`params`: the JSON paychan-wasm built); answers the whole
   * response text, for `PayerChannel.applyReceipt`. */
  async submit(params: string): Promise<string> {
    return (await this.callRaw("ledger_submit", params)).text;
  }

  /** The channel's record (`null` if the ledger never opened it). */
  channel(channelId: string): Promise<unknown> {
    return this.call("ledger_channel", { channelId });
  }
}

/** The digits of a JSON-RPC response whose result is a whole number, exactly. */
function resultDigits(text: string): string {
  const match = /"result"\s*:\s*(\d+)/.exec(text);
  if (!match?.[1]) throw new LedgerRpcError(`not a number: ${text.slice(0, 200)}`, -32013, null);
  return match[1];
}
