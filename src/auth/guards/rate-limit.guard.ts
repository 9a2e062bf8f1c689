import { type ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import { RouteMetadata } from '../../common/route-metadata';
import { RATE_LIMIT_BUCKET } from '../decorators/rate-limited.decorator';

/**
 * @nestjs/throttler, global but acting only on @RateLimited routes, keyed by the
 * route's bucket and the client IP. `req.ip` honours TRUST_PROXY only: a forged
 * X-Forwarded-For changes nothing unless the operator trusts the proxy that set it.
 * Counting is atomic per instance (in memory); the storage sits behind
 * ThrottlerStorage, so a shared store (Redis) can replace it for several instances.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  /** Each route's bucket, '' when it names none. */
  private readonly buckets = new RouteMetadata(
    ([handler]) => this.reflector.get<string | undefined>(RATE_LIMIT_BUCKET, handler) ?? '',
  );

  protected override shouldSkip(context: ExecutionContext): Promise<boolean> {
    return Promise.resolve(!this.buckets.of(context));
  }

  protected override generateKey(context: ExecutionContext, tracker: string, name: string): string {
    return `${name}:${this.buckets.of(context)}:${tracker}`;
  }
}
