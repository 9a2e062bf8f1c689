import { BoundedMap } from '../common/bounded-map';
import type { InvalidationBus } from './invalidation-bus';

/**
 * A read-through cache that is only trusted while the InvalidationBus is live (so
 * no change from another instance can have been missed), bounded in size, and
 * never keeps a value read before an invalidation that raced the read.
 * `undefined` from a loader means "nothing to keep" and is not cached.
 */
export class SyncedCache<V> {
  private readonly entries: BoundedMap<string, V>;
  /** Bumped by every change, so a load that raced one is not kept. */
  private generation = 0;

  constructor(
    private readonly bus: InvalidationBus,
    capacity: number,
  ) {
    this.entries = new BoundedMap(capacity);
  }

  /** The cached value, when the cache can be trusted. */
  peek(key: string): V | undefined {
    return this.bus.live ? this.entries.get(key) : undefined;
  }

  /** The cached value, or the loaded one. */
  async get(key: string, load: () => Promise<V>): Promise<V> {
    const cached = this.peek(key);
    return cached !== undefined ? cached : this.load(key, load);
  }

  /** Always loads, and keeps the result unless a change raced the load. */
  async load(key: string, load: () => Promise<V>): Promise<V> {
    const generation = this.generation;
    const value = await load();
    if (value !== undefined && this.bus.live && generation === this.generation) this.entries.set(key, value);
    return value;
  }

  set(key: string, value: V): void {
    this.generation++;
    this.entries.set(key, value);
  }

  delete(key: string): void {
    this.generation++;
    this.entries.delete(key);
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
  }
}
