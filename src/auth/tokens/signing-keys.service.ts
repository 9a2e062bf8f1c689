import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import {
  ConflictException,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import type { Request } from 'express';
import { AuditService } from '../../audit/audit.service';
import { SecretBox } from '../../common/secret-box';
import { lockUntilTransactionEnds } from '../../database/advisory-lock';
import { InvalidationBus } from '../../database/invalidation-bus';
import { AUTH_OPTIONS, type AuthOptions } from '../auth.options';
import { MAX_PUBLISHED_SIGNING_KEYS, type SigningKey } from './signing-key.entity';
import { TokenLoginsRepository } from '../../sessions/token-logins.repository';
import { SigningKeysRepository } from './signing-keys.repository';

/** Any constant shared by every instance: one rotation at a time across them. */
const ROTATION_LOCK_KEY = 7_231_004_515;
const ROTATION_CHECK_MS = 3600_000;
const CLOCK_SKEW_MS = 60_000;
const DAY_MS = 24 * 3600_000;

/** The key that signs now. */
export interface CurrentSigningKey {
  kid: string;
  privateKey: KeyObject;
}

/** A public key as GET /.well-known/jwks.json lists it. */
export type PublicJwk = Record<string, string>;

interface LoadedKey {
  kid: string;
  publicKey: KeyObject;
  publicJwk: PublicJwk;
  /** Tokens it signed may be alive until then (ms); Infinity for the current key. */
  acceptedUntil: number;
}

/**
 * ES256 signing keys (JWT_ALGORITHM=ES256): made on first start and every
 * JWT_KEY_ROTATION_DAYS (or when an admin asks), by one instance at a time; every
 * instance signs with the same current key and hears of a rotation through the
 * invalidation feed (kind `signing-key`), reloading from the database. A retired key
 * verifies, and stays published, until the last access token it can have signed has
 * expired (its retirement + ACCESS_TOKEN_TTL_SECONDS + a minute of clock skew), then
 * it is gone from both. Verification reads only memory.
 */
@Injectable()
export class SigningKeysService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(SigningKeysService.name);
  private readonly box: SecretBox;
  private current?: CurrentSigningKey;
  private keys = new Map<string, LoadedKey>();
  /** When the first ES256 key was made (ms). */
  private es256Since = -Infinity;
  /** Until when HS256 tokens from before it may be accepted (ms); -Infinity on a fresh install. */
  private legacyHs256Until = -Infinity;
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(AUTH_OPTIONS) private readonly options: AuthOptions,
    private readonly repository: SigningKeysRepository,
    private readonly bus: InvalidationBus,
    private readonly audit: AuditService,
    private readonly logins: TokenLoginsRepository,
  ) {
    this.box = new SecretBox(options.secrets.jwt, 'signing-keys');
    bus.register({
      invalidate: ({ kind }) => {
        if (kind === 'signing-key') void this.reloadQuietly();
      },
      resync: () => this.reloadQuietly(),
    });
  }

  get enabled(): boolean {
    return this.options.jwt.algorithm === 'ES256';
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.enabled) return;
    await this.rotateIfDue();
    this.timer = setInterval(() => {
      this.rotateIfDue().catch((error: Error) =>
        this.logger.warn(`Key rotation check failed: ${error.message}`),
      );
    }, ROTATION_CHECK_MS).unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** The key to sign with. */
  signingKey(): CurrentSigningKey {
    if (!this.current) throw new Error('No signing key loaded');
    return this.current;
  }

  /** The public key of `kid`, while tokens it signed may still be alive; undefined otherwise. */
  verificationKey(kid: string): KeyObject | undefined {
    const key = this.keys.get(kid);
    return key && key.acceptedUntil > Date.now() ? key.publicKey : undefined;
  }

  /**
   * An HS256 access token (signed with JWT_SECRET before ES256 was switched on) is
   * accepted only after an upgrade (the first key found live token logins), if it was
   * issued before the switch with this service's lifetime, and so only until the last
   * of those has expired: whoever holds JWT_SECRET cannot mint new ones afterwards,
   * and a fresh install accepts none.
   */
  acceptsLegacyHs256(iat: number, exp: number): boolean {
    return (
      iat * 1000 <= this.es256Since + CLOCK_SKEW_MS &&
      exp - iat <= this.options.jwt.accessTokenTtlSeconds &&
      Date.now() < this.legacyHs256Until
    );
  }

  /** The published keys: only public parts. */
  jwks(): { keys: PublicJwk[] } {
    const now = Date.now();
    return {
      keys: [...this.keys.values()]
        .filter((key) => key.acceptedUntil > now)
        .map((key) => ({ ...key.publicJwk, kid: key.kid, alg: 'ES256', use: 'sig' })),
    };
  }

  /**
   * An admin's rotation: a new key signs from now on, on every instance. 409 when the
   * set would then publish more than MAX_PUBLISHED_SIGNING_KEYS keys.
   */
  async rotate(req?: Request): Promise<{ kid: string; createdAt: string }> {
    const kid = await this.rotateUnder(() => true);
    await this.audit.record(req, {
      type: 'signing_key.rotated',
      actorId: req?.auth?.user.id,
      details: { kid },
    });
    const created = this.loadedRows.find((row) => row.kid === kid)?.createdAt ?? new Date();
    return { kid: kid!, createdAt: created.toISOString() };
  }

  /** On start and hourly: a key when there is none, a new one once the current one is JWT_KEY_ROTATION_DAYS old. */
  private async rotateIfDue(): Promise<void> {
    // A current key this instance cannot open (JWT_SECRET was changed) is due too: a new
    // key sealed under the new secret takes over, and the old one's public half still
    // verifies what it signed until it leaves the set.
    const due = (keys: SigningKey[]) => {
      const current = keys.find((key) => key.retiredAt === null);
      return (
        !current ||
        current.createdAt.getTime() + this.options.jwt.keyRotationDays * DAY_MS <= Date.now() ||
        !this.privateKeyOf(current)
      );
    };
    await this.reload();
    if (!due([...this.loadedRows])) return;
    const kid = await this.rotateUnder(due).catch((error: unknown) => {
      if (!(error instanceof ConflictException)) throw error;
      // Only rotations on demand can fill the set; the next check tries again.
      this.logger.warn(`Scheduled key rotation skipped: ${error.message}`);
      return undefined;
    });
    if (kid) this.logger.log({ kid }, 'New signing key');
  }

  /**
   * Makes a new key if `due` (checked again under the lock, which every instance takes in
   * turn); 409 when the set publishes MAX_PUBLISHED_SIGNING_KEYS already: the current key
   * would stay published, retired, beside the new one.
   */
  private async rotateUnder(due: (keys: SigningKey[]) => boolean): Promise<string | undefined> {
    let kid: string | undefined;
    await this.bus.transaction(async (tx) => {
      await lockUntilTransactionEnds(tx.manager, ROTATION_LOCK_KEY);
      const existing = await this.repository.findAll(tx.manager);
      if (!due(existing)) return;
      const now = Date.now();
      const published = existing.map((row) => this.acceptedUntil(row)).filter((until) => until > now);
      if (published.length >= MAX_PUBLISHED_SIGNING_KEYS)
        throw new ConflictException(
          `The key set publishes at most ${MAX_PUBLISHED_SIGNING_KEYS} keys: wait until the oldest retired key expires (${new Date(Math.min(...published)).toISOString()}), then rotate`,
        );
      // The first key of a deployment that already issued HS256 tokens: those may live on for one lifetime.
      const upgrade = existing.length === 0 && (await this.logins.anyLive(tx.manager));
      const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      kid = randomBytes(16).toString('base64url');
      await this.repository.replaceCurrent(
        {
          kid,
          algorithm: 'ES256',
          publicJwk: publicKey.export({ format: 'jwk' }) as PublicJwk,
          privateKeySealed: this.box.seal(privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()),
          legacyHs256UntilMs: upgrade
            ? this.options.jwt.accessTokenTtlSeconds * 1000 + CLOCK_SKEW_MS
            : undefined,
        },
        tx.manager,
      );
      await tx.publish([{ kind: 'signing-key', key: kid }]);
    });
    await this.reload();
    return kid;
  }

  private loadedRows: SigningKey[] = [];

  private async reload(): Promise<void> {
    const rows = await this.repository.findAll();
    const keys = new Map<string, LoadedKey>();
    let current: CurrentSigningKey | undefined;
    for (const row of rows) {
      keys.set(row.kid, {
        kid: row.kid,
        publicKey: createPublicKey({ key: row.publicJwk, format: 'jwk' }),
        publicJwk: row.publicJwk,
        acceptedUntil: this.acceptedUntil(row),
      });
      if (row.retiredAt) continue;
      const privateKey = this.privateKeyOf(row);
      if (privateKey) current = { kid: row.kid, privateKey };
      else
        this.logger.error(
          { kid: row.kid },
          'The current signing key cannot be opened with this JWT_SECRET (was it changed, or do instances differ?): a new key takes over at the next rotation check',
        );
    }
    this.loadedRows = rows;
    this.keys = keys;
    if (current) this.current = current;
    if (rows.length) {
      this.es256Since = rows[0].createdAt.getTime();
      this.legacyHs256Until = rows[0].legacyHs256Until?.getTime() ?? -Infinity;
    }
  }

  /** Until when the key verifies, and is published (ms): Infinity for the current key. */
  private acceptedUntil(row: SigningKey): number {
    const overlapMs = this.options.jwt.accessTokenTtlSeconds * 1000 + CLOCK_SKEW_MS;
    return row.retiredAt ? row.retiredAt.getTime() + overlapMs : Infinity;
  }

  /** The key's private half, or undefined when this instance's JWT_SECRET does not open it. */
  private privateKeyOf(row: SigningKey): KeyObject | undefined {
    try {
      return createPrivateKey(this.box.open(row.privateKeySealed));
    } catch {
      return undefined;
    }
  }

  private async reloadQuietly(): Promise<void> {
    if (!this.enabled) return;
    await this.reload().catch((error: Error) =>
      this.logger.warn(`Signing keys not reloaded: ${error.message}`),
    );
  }
}
