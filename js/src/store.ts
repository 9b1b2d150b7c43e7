// Where a payer keeps its channels' state. The rule is the node's (docs/PROTOCOL.md,
// durability): a package leaves only once the state that counts it paid is stored, so a
// crash or a reload never pays the same counter twice or forgets a payment.

/** A channel store. `save` resolves only once the state is durable. */
export interface ChannelStore {
  /** Every stored channel's state (`PayerChannel.toJSON()`). */
  load(): Promise<string[]>;
  /** Stores `state` for channel `id`, replacing what was there; resolves when durable. */
  save(id: string, state: string): Promise<void>;
  /** Forgets channel `id` (a channel the ledger refused to open). */
  remove(id: string): Promise<void>;
  /** Optional: stores and forgets (`state` null) several at once, all or nothing; resolves
   * when durable. Without it, `save` and `remove` run one after the other. */
  saveMany?(records: { id: string; state: string | null }[]): Promise<void>;
}

/** In memory: for tests and for payers that may forget (nothing survives the process). */
export class MemoryStore implements ChannelStore {
  readonly states = new Map<string, string>();

  async load(): Promise<string[]> {
    return [...this.states.values()];
  }

  async save(id: string, state: string): Promise<void> {
    this.states.set(id, state);
  }

  async remove(id: string): Promise<void> {
    this.states.delete(id);
  }

  async saveMany(records: { id: string; state: string | null }[]): Promise<void> {
    for (const r of records) {
      if (r.state === null) this.states.delete(r.id);
      else this.states.set(r.id, r.state);
    }
  }
}

/** IndexedDB, for the browser: one object store of channel states, each write in its own
 * transaction, resolved when the transaction completes. `durability` is IndexedDB's:
 * `"strict"` (the default here) waits until the write is flushed to disk, so it survives
 * a power loss; `"relaxed"` until the browser has handed it to the operating system, so it
 * survives a crash of the tab or the browser (what the node's SQLite store promises by
 * default, `synchronous=NORMAL`), several times faster (docs/PERFORMANCE.md). */
export class IndexedDbStore implements ChannelStore {
  private db: Promise<IDBDatabase> | undefined;

  constructor(
    readonly name = "paychan",
    readonly durability: "strict" | "relaxed" = "strict",
    readonly objectStore = "channels",
  ) {}

  private open(): Promise<IDBDatabase> {
    this.db ??= new Promise((resolve, reject) => {
      const request = indexedDB.open(this.name, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(this.objectStore);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    return this.db;
  }

  private async write(apply: (store: IDBObjectStore) => void): Promise<void> {
    const db = await this.open();
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction(this.objectStore, "readwrite", { durability: this.durability });
      apply(tx.objectStore(this.objectStore));
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new Error("the IndexedDB transaction was aborted"));
    });
  }

  async load(): Promise<string[]> {
    const db = await this.open();
    return new Promise((resolve, reject) => {
      const request = db.transaction(this.objectStore).objectStore(this.objectStore).getAll();
      request.onsuccess = () => resolve(request.result as string[]);
      request.onerror = () => reject(request.error);
    });
  }

  save(id: string, state: string): Promise<void> {
    return this.write((store) => store.put(state, id));
  }

  remove(id: string): Promise<void> {
    return this.write((store) => store.delete(id));
  }

  /** Several channels in one transaction (the `Client` stores what changed together). */
  saveMany(records: { id: string; state: string | null }[]): Promise<void> {
    return this.write((store) => {
      for (const r of records) {
        if (r.state === null) store.delete(r.id);
        else store.put(r.state, r.id);
      }
    });
  }
}
