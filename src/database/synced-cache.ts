import { BoundedMap } from '../common/bounded-map';
/** What tells a cache whether it may be trusted: the InvalidationBus, or that and a store's connection. */
export interface Liveness {
  readonly live: boolean;
}

interface Entry<V> {
  value: V;
  /** Date.now() when it was read or written. */
  storedAt: number;
}

/**
 * A read-through cache that is only trusted while its feed (the InvalidationBus) is
 * live, so no change from another instance can have been missed, bounded in size, never
 * trusting an entry older than `maxAgeMs` (a backstop should a notification be
 * lost), and never keeping a value read before an invalidation that raced the read.
 * `undefined` from a loader means "nothing to keep" and is not cached.
 */
export class SyncedCache<V> {
  private readonly entries: BoundedMap<string, Entry<V>>;
  /** Bumped by every change, so a load that raced one is not kept. */
  private generation = 0;

  constructor(
    private readonly feed: Liveness,
    capacity: number,
    private readonly maxAgeMs: number,
  ) {
    this.entries = new BoundedMap(capacity);
  }

  /** The cached value, when the cache can be trusted. */
  peek(key: string): V | undefined {
    if (!this.feed.live) return undefined;
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (Date.now() - entry.storedAt < this.maxAgeMs) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  /** The cached value, or the loaded one. */
  async get(key: string, load: () => Promise<V>): Promise<V> {
    const cached = this.peek(key);
    return cached !== undefined ? cached : this.load(key, load);
  }

  /** Always loads, and keeps the result unless a change raced the load. */
  async load(key: string, load: () => Promise<V>): Promise<V> {
    const generation = this.generation;
    const startedAt = Date.now();
    const value = await load();
    // Aged from when the read began: the database may have changed since.
    if (value !== undefined && this.feed.live && generation === this.generation)
      this.entries.set(key, { value, storedAt: startedAt });
    return value;
  }

  set(key: string, value: V): void {
    this.generation++;
    this.entries.set(key, { value, storedAt: Date.now() });
  }

  delete(key: string): void {
    this.generation++;
    this.entries.delete(key);
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
  }

  /** Entries held, trusted or not. */
  get size(): number {
    return this.entries.size;
  }
}
