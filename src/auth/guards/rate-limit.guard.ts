import { type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  normalizeIp,
  ThrottlerException,
  ThrottlerGuard,
  type ThrottlerModuleOptions,
  type ThrottlerRequest,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import type { Request, Response } from 'express';
import { FixedWindowCounter } from '../../common/fixed-window-counter';
import { RouteMetadata } from '../../common/route-metadata';
import { AUTH_OPTIONS, type AuthOptions } from '../auth.options';
import {
  RATE_LIMIT_BUCKET,
  RATE_LIMIT_BUCKETS,
  type RateLimitBucket,
} from '../decorators/rate-limited.decorator';

const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

/** The general budget's name in the `RateLimit` headers. */
const API_POLICY = 'api';
export const TOO_MANY_REQUESTS = 'Too many requests from this client; try again later';

/**
 * Two budgets per client IP, each answered in the IETF `RateLimit-Policy` and
 * `RateLimit` headers (draft-ietf-httpapi-ratelimit-headers: `"name";q=limit;w=window`
 * and `"name";r=remaining;t=seconds`), and a 429 with Retry-After once spent:
 * - on every route, API_RATE_LIMIT requests per API_RATE_WINDOW_SECONDS, counted by
 *   each instance in memory: a flood guard that must cost next to nothing, so never a
 *   Redis round trip per request (behind N instances a client gets up to N times it);
 * - on @RateLimited routes, the route's bucket (AUTH_RATE_LIMIT per window), counted
 *   by @nestjs/throttler in its storage: Redis when configured, so the whole fleet
 *   shares one count for logins, sign-ups and the like.
 * `req.ip` honours TRUST_PROXY only: a forged X-Forwarded-For changes nothing unless
 * the operator trusts the proxy that set it. IPv6 clients are counted per /64.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  /** Each route's bucket, '' when it names none. */
  private readonly buckets = new RouteMetadata(
    ([handler]) => this.reflector.get<RateLimitBucket | undefined>(RATE_LIMIT_BUCKET, handler) ?? '',
  );
  private readonly budget: FixedWindowCounter | undefined;
  private readonly budgetLimit: number;
  /** `RateLimit-Policy` values, worked out once: the general budget, and with each bucket. */
  private readonly policies = new Map<string, string>();
  private uncountedReportedAt = 0;

  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    @Inject(AUTH_OPTIONS) { abuse }: AuthOptions,
  ) {
    super(options, storage, reflector);
    this.budgetLimit = abuse.apiRateLimit;
    this.budget = abuse.apiRateLimit > 0 ? new FixedWindowCounter(abuse.apiRateWindowMs) : undefined;
    const api = this.budget
      ? [`"${API_POLICY}";q=${abuse.apiRateLimit};w=${abuse.apiRateWindowMs / 1000}`]
      : [];
    this.policies.set('', api.join(', '));
    const bucketPolicy = `q=${abuse.rateLimit};w=${abuse.rateWindowMs / 1000}`;
    for (const bucket of RATE_LIMIT_BUCKETS)
      this.policies.set(bucket, [...api, `"${bucket}";${bucketPolicy}`].join(', '));
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const bucket = this.buckets.of(context);
    if (this.budget) {
      const http = context.switchToHttp();
      const req = http.getRequest<Request>();
      const res = http.getResponse<Response>();
      const now = Date.now();
      const hits = this.budget.hit(this.client(req.ip ?? ''), now);
      if (hits === 0) this.reportUncounted(now);
      const seconds = this.budget.secondsLeft(now);
      res.setHeader('RateLimit-Policy', this.policies.get(bucket)!);
      res.setHeader('RateLimit', `"${API_POLICY}";r=${Math.max(0, this.budgetLimit - hits)};t=${seconds}`);
      if (hits > this.budgetLimit) {
        res.setHeader('Retry-After', String(seconds));
        throw new ThrottlerException(TOO_MANY_REQUESTS);
      }
    }
    return bucket ? super.canActivate(context) : true;
  }

  /**
   * The client's key: an IPv4 address as it is, IPv6 through @nestjs/throttler's
   * normalizeIp (the /64). An IPv4 client of a dual-stack server arrives as
   * `::ffff:a.b.c.d`, which normalizeIp turns back into `a.b.c.d` after expanding and
   * masking eight hextets: the same answer is taken here without that work, which was
   * a visible share of a cheap request's cost.
   */
  private client(ip: string): string {
    if (ip.startsWith('::ffff:') && IPV4.test(ip.slice(7))) return ip.slice(7);
    return IPV4.test(ip) ? ip : normalizeIp(ip, this.ipv6SubnetPrefix);
  }

  private reportUncounted(now: number): void {
    if (now - this.uncountedReportedAt < 60_000) return;
    this.uncountedReportedAt = now;
    this.logger.warn(
      'More clients than the general budget counts in one window: the rest go uncounted until it ends',
    );
  }

  protected override generateKey(context: ExecutionContext, tracker: string, name: string): string {
    return `${name}:${this.buckets.of(context)}:${tracker}`;
  }

  /** The bucket's count, as @nestjs/throttler keeps it, answered in the IETF headers instead of X-RateLimit-*. */
  protected override async handleRequest({
    context,
    limit,
    ttl,
    throttler,
    blockDuration,
    getTracker,
    generateKey,
  }: ThrottlerRequest): Promise<boolean> {
    const http = context.switchToHttp();
    const req = http.getRequest<Request>();
    const res = http.getResponse<Response>();
    const tracker = await getTracker(req, context);
    const key = generateKey(context, tracker, throttler.name!);
    const record = await this.storageService.increment(key, ttl, limit, blockDuration, throttler.name!);
    const seconds = record.isBlocked ? record.timeToBlockExpire : record.timeToExpire;
    const item = `"${this.buckets.of(context)}";r=${record.isBlocked ? 0 : Math.max(0, limit - record.totalHits)};t=${seconds}`;
    const general = res.getHeader('RateLimit');
    if (!this.budget) res.setHeader('RateLimit-Policy', this.policies.get(this.buckets.of(context))!);
    res.setHeader('RateLimit', general ? `${String(general)}, ${item}` : item);
    if (record.isBlocked) {
      res.setHeader('Retry-After', String(seconds));
      await this.throwThrottlingException(context, { ...record, limit, ttl, key, tracker });
    }
    return true;
  }
}
