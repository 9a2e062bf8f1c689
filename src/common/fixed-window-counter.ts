/**
 * Counts hits per client in fixed windows (aligned on multiples of the window, so
 * every instance's windows start together), in memory.
 *
 * Written here rather than taken from @nestjs/throttler: its in-memory storage keeps
 * one expiry time per hit (a sliding log) and filters that array on every hit, which
 * is right for a budget of 20 logins but costs an allocation and a scan of up to
 * `limit` entries per request for a budget of thousands on every route.
 * At most `capacity` clients are counted per window, so a flood from many addresses
 * cannot grow it without bound; beyond that, new clients go uncounted until the
 * window ends (`hit` answers 0), as a per-IP budget cannot stop such a flood anyway.
 */
export class FixedWindowCounter {
  private counts = new Map<string, number>();
  private windowEndsAt = 0;

  constructor(
    private readonly windowMs: number,
    private readonly capacity = 100_000,
  ) {}

  /** Counts one hit for `client`; returns its hits in the current window (0: not counted). */
  hit(client: string, now = Date.now()): number {
    if (now >= this.windowEndsAt) {
      this.windowEndsAt = (Math.floor(now / this.windowMs) + 1) * this.windowMs;
      this.counts = new Map();
    }
    const hits = (this.counts.get(client) ?? 0) + 1;
    if (hits === 1 && this.counts.size >= this.capacity) return 0;
    this.counts.set(client, hits);
    return hits;
  }

  /** Whole seconds until the current window ends (at least 1). */
  secondsLeft(now = Date.now()): number {
    return Math.max(1, Math.ceil((this.windowEndsAt - now) / 1000));
  }
}
