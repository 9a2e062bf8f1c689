import {
  BadRequestException,
  ConflictException,
  HttpException,
  HttpStatus,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  UnauthorizedException,
} from '@nestjs/common';
import { ThrottlerStorage } from '@nestjs/throttler';
import type { Request } from 'express';
import { AuditService } from '../../audit/audit.service';
import { BoundedMap } from '../../common/bounded-map';
import { randomSecret, sha256Hex } from '../../common/opaque-secrets';
import { lockUntilTransactionEnds } from '../../database/advisory-lock';
import { InvalidationBus } from '../../database/invalidation-bus';
import { effectiveRoles } from '../../roles/role-names';
import { UserCache } from '../../users/user-cache';
import type { User } from '../../users/user.entity';
import type { AuthContext } from '../auth-context';
import { AUTH_OPTIONS, type AuthOptions } from '../auth.options';
import { ApiKeyCache, type ApiKeyState } from './api-key-cache';
import { type ApiKey, MAX_API_KEYS_PER_USER } from './api-key.entity';
import { ApiKeysRepository } from './api-keys.repository';

/** Recognisable in logs and secret scanners: `nak_` + 256 random bits (base64url). */
const KEY_PREFIX = 'nak_';
const SHOWN_PREFIX_LENGTH = 12;
const USE_WRITE_INTERVAL_MS = 60_000;
export const INVALID_API_KEY = 'Invalid, expired or revoked API key';
/** The space of the per-user locks key creations take in turn (see lockUntilTransactionEnds). */
const KEY_CREATION_LOCK_SPACE = 7_231_001;
const TOO_MANY_API_KEYS = `An account holds at most ${MAX_API_KEYS_PER_USER} API keys (expired ones count until revoked): revoke one before creating another`;

export interface NewApiKey {
  name: string;
  roles?: string[];
  expiresAt?: Date;
}

/**
 * API keys: created by their owner (recent authentication), shown once, stored as a
 * hash. A request by key acts for the owner with the key's roles that the owner still
 * has (a demoted owner's keys lose the role on the next request); a disabled or
 * deleted owner's keys fail at once; revocation reaches every instance through the
 * invalidation feed. Checking a key costs no query once an instance has seen it (an
 * ApiKeyCache and the UserCache), and its use is written at most once a minute.
 * Failed checks count per client IP like logins (the throttler's storage: shared
 * through Redis when configured).
 */
@Injectable()
export class ApiKeysService {
  private readonly logger = new Logger(ApiKeysService.name);
  private readonly lastWritten = new BoundedMap<string, number>(100_000);
  /** Client addresses refused until then (ms), learnt from the throttler's storage. */
  private readonly blockedUntil = new BoundedMap<string, number>(100_000);
  private readonly acting = new WeakMap<Exclude<ApiKeyState, 'revoked'>, { owner: User; user: User }>();

  constructor(
    @Inject(AUTH_OPTIONS) private readonly options: AuthOptions,
    private readonly keys: ApiKeysRepository,
    private readonly cache: ApiKeyCache,
    private readonly users: UserCache,
    private readonly bus: InvalidationBus,
    private readonly audit: AuditService,
    @Inject(ThrottlerStorage) private readonly throttle: ThrottlerStorage,
  ) {}

  /**
   * A new key for `owner`; the key itself is in the answer only (400 for roles the owner
   * lacks or a past expiry, 409 when the owner has MAX_API_KEYS_PER_USER keys listed).
   */
  async create(req: Request, owner: User, request: NewApiKey): Promise<ApiKey & { key: string }> {
    const held = owner.roles.map((role) => role.name);
    const roles = [...new Set(request.roles ?? held)];
    const missing = roles.filter((role) => !held.includes(role));
    if (missing.length) throw new BadRequestException([`roles not held by the owner: ${missing.join(', ')}`]);
    if (request.expiresAt && request.expiresAt.getTime() <= Date.now())
      throw new BadRequestException(['expiresAt must be in the future']);
    const key = `${KEY_PREFIX}${randomSecret()}`;
    const stored = await this.bus.transaction(async ({ manager }) => {
      // Counted and inserted under the owner's lock: two creations at once cannot both take the last place.
      await lockUntilTransactionEnds(manager, KEY_CREATION_LOCK_SPACE, owner.id);
      if ((await this.keys.countOfUser(owner.id, manager)) >= MAX_API_KEYS_PER_USER)
        throw new ConflictException(TOO_MANY_API_KEYS);
      return this.keys.create(
        {
          userId: owner.id,
          name: request.name.trim(),
          prefix: key.slice(0, SHOWN_PREFIX_LENGTH),
          keyHash: sha256Hex(key),
          roles: roles.sort(),
          expiresAt: request.expiresAt ?? null,
        },
        manager,
      );
    });
    await this.audit.record(req, { type: 'apikey.created', userId: owner.id, details: { keyId: stored.id } });
    return Object.assign(stored, { key });
  }

  list(userId: string): Promise<ApiKey[]> {
    return this.keys.findOfUser(userId);
  }

  /** Revokes the user's key: refused on its next use on every instance. 404 when the user has no such key. */
  async revoke(req: Request, userId: string, id: string): Promise<void> {
    await this.bus.transaction(async (tx) => {
      const keyHash = await this.keys.revoke(userId, id, tx.manager);
      if (!keyHash) throw new NotFoundException('No such API key');
      await tx.publish([{ kind: 'apikey', key: keyHash }]);
    });
    await this.audit.record(req, {
      type: 'apikey.revoked',
      userId,
      actorId: req.auth?.user.id,
      details: { keyId: id },
    });
  }

  /** The caller of a request with `X-API-Key: rawKey`; 401 when the key does not work, 429 after too many failures. */
  async authenticate(req: Request, rawKey: string): Promise<AuthContext> {
    const ip = req.ip ?? 'unknown';
    const blocked = this.blockedUntil.get(ip);
    if (blocked !== undefined && blocked > Date.now()) throw tooMany(blocked);
    const context =
      rawKey.startsWith(KEY_PREFIX) && rawKey.length <= 100 ? await this.check(rawKey) : undefined;
    if (context) return context;
    await this.countFailure(ip);
    throw new UnauthorizedException(INVALID_API_KEY);
  }

  private async check(rawKey: string): Promise<AuthContext | undefined> {
    const keyHash = sha256Hex(rawKey);
    const key = this.cache.peek(keyHash) ?? (await this.cache.get(keyHash));
    if (!key || key === 'revoked' || (key.expiresAt !== null && key.expiresAt <= Date.now()))
      return undefined;
    const owner = this.users.peek(key.userId) ?? (await this.users.get(key.userId));
    if (!owner || owner.disabled) return undefined;
    this.touch(key.id);
    return { user: this.actingUser(key, owner), method: 'apikey', apiKeyId: key.id };
  }

  /**
   * The owner as the key acts for them: the key's roles, as far as the owner still holds
   * them (`admin` still implies `user`). Made once per key and owner object: both are
   * replaced, never changed, when they change (a demotion is a new owner object), and
   * keeping the same object lets what is made from it be kept too (GET /me's answer).
   */
  private actingUser(key: Exclude<ApiKeyState, 'revoked'>, owner: User): User {
    const made = this.acting.get(key);
    if (made?.owner === owner) return made.user;
    const held = effectiveRoles(owner.roles.map((role) => role.name));
    const user = {
      ...owner,
      roles: owner.roles.filter((role) => key.roles.includes(role.name) && held.has(role.name)),
    };
    this.acting.set(key, { owner, user });
    return user;
  }

  private touch(id: string): void {
    const now = Date.now();
    if (now - (this.lastWritten.get(id) ?? 0) < USE_WRITE_INTERVAL_MS) return;
    this.lastWritten.set(id, now);
    this.keys
      .markUsed(id)
      .catch((error: Error) => this.logger.warn(`Could not record API key use: ${error.message}`));
  }

  private async countFailure(ip: string): Promise<void> {
    const { rateLimit, rateWindowMs } = this.options.abuse;
    const record = await this.throttle.increment(
      `apikey-failures:${ip}`,
      rateWindowMs,
      rateLimit,
      rateWindowMs,
      'default',
    );
    if (record.isBlocked) {
      const until = Date.now() + record.timeToBlockExpire * 1000;
      this.blockedUntil.set(ip, until);
      throw tooMany(until);
    }
    // The budget is spent: the next check from this client, right key or not, waits for the window.
    if (record.totalHits >= rateLimit) {
      this.blockedUntil.set(ip, Date.now() + Math.max(record.timeToExpire, record.timeToBlockExpire) * 1000);
    }
  }
}

function tooMany(until: number): HttpException {
  return Object.assign(
    new HttpException(
      'Too many failed API key checks from this client; try again later',
      HttpStatus.TOO_MANY_REQUESTS,
    ),
    { retryAfterSeconds: Math.max(1, Math.ceil((until - Date.now()) / 1000)) },
  );
}
