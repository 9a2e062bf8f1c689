import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, UnauthorizedException } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { Request } from 'express';
import { AuditService } from '../../audit/audit.service';
import { randomSecret, sha256Hex } from '../../common/opaque-secrets';
import { clientInfo } from '../client-info';
import { AUTH_OPTIONS, type AuthOptions } from '../auth.options';
import { SignInsService } from '../../sessions/sign-ins.service';
import type { TokenLogin } from '../../sessions/token-login.entity';
import { TokenLoginsRepository } from '../../sessions/token-logins.repository';
import { UserCache } from '../../users/user-cache';
import type { User } from '../../users/user.entity';
import { UsersRepository } from '../../users/users.repository';
import type { TokenPairResponse } from '../dto/auth.responses';
import { INVALID_CREDENTIALS } from '../auth-messages';
import { ACCESS_TOKEN_TYPE } from './access-token-type';
import { RefreshTokensRepository } from './refresh-tokens.repository';
import { SigningKeysService } from './signing-keys.service';

/** The claims of an access token. `sid` names the token login it belongs to. */
export interface AccessTokenClaims {
  sub: string;
  sid: string;
  jti: string;
  iat: number;
  exp: number;
  iss: string;
  aud: string;
}

const INVALID_REFRESH = 'Invalid or expired refresh token';

/**
 * Token logins: short-lived JWT access tokens plus opaque, single-use refresh
 * tokens (256 bits from the CSPRNG, stored only as SHA-256). Rotation spends the
 * presented token; presenting a spent one again means it was copied, so the whole
 * login is revoked (reuse detection).
 */
@Injectable()
export class TokenService {
  private readonly logger = new Logger(TokenService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly jwt: JwtService,
    private readonly signIns: SignInsService,
    private readonly users: UsersRepository,
    private readonly userCache: UserCache,
    private readonly logins: TokenLoginsRepository,
    private readonly refreshTokens: RefreshTokensRepository,
    @Inject(AUTH_OPTIONS) private readonly config: AuthOptions,
    private readonly audit: AuditService,
    private readonly signingKeys: SigningKeysService,
  ) {}

  /**
   * A new login for a user whose credentials were just checked, created only while the
   * user's credential version is still the one that check read. The user's row is
   * share-locked until commit: a change that bumps the version (password change,
   * logout everywhere, revoke-all, disable) either waits for this login and then
   * revokes it, or commits first and this login is refused (401).
   */
  async issue(user: User, req: Request): Promise<TokenPairResponse> {
    const client = clientInfo(req);
    const pair = await this.dataSource.transaction(async (manager) => {
      if (!(await this.users.lockIfCredentialsCurrent(user.id, user.credentialVersion, manager)))
        throw new UnauthorizedException(INVALID_CREDENTIALS);
      const login = await this.logins.create(
        {
          userId: user.id,
          expiresAt: new Date(Date.now() + this.config.jwt.loginTtlSeconds * 1000),
          credentialVersion: user.credentialVersion,
          ip: client.ip,
          userAgent: client.userAgent,
        },
        manager,
      );
      const refreshToken = randomSecret();
      await this.refreshTokens.insert(sha256Hex(refreshToken), login.id, manager);
      return this.pair(user.id, login, refreshToken);
    });
    await this.audit.record(req, { type: 'login.succeeded', userId: user.id, details: { method: 'jwt' } });
    return pair;
  }

  /** Spends `refreshToken` and returns the next pair of the same login. */
  async rotate(refreshToken: string, req?: Request): Promise<TokenPairResponse> {
    const tokenHash = sha256Hex(refreshToken);
    const outcome = await this.dataSource.transaction(async (manager) => {
      const loginId = await this.refreshTokens.spend(tokenHash, manager);
      if (!loginId) return { reused: await this.refreshTokens.findByHash(tokenHash, manager) };

      const login = await this.logins.findById(loginId, manager);
      if (!login || login.revokedAt || !this.isLive(login)) return {};
      const user = await this.userCache.get(login.userId);
      if (!user || user.disabled || user.credentialVersion !== login.credentialVersion) return {};

      const next = randomSecret();
      await this.refreshTokens.insert(sha256Hex(next), loginId, manager);
      await this.logins.markUsed(loginId, manager);
      return { pair: this.pair(user.id, login, next), userId: user.id };
    });
    if (outcome.pair) {
      await this.audit.record(req, { type: 'token.refreshed', userId: outcome.userId });
      return outcome.pair;
    }
    if (outcome.reused) {
      const loginId = outcome.reused.loginId;
      this.logger.warn({ loginId }, 'Refresh token reuse: login revoked');
      await this.signIns.revokeLogins([loginId]);
      const login = await this.logins.findById(loginId);
      await this.audit.record(req, {
        type: 'token.reuse_detected',
        userId: login?.userId,
        details: { loginId },
      });
    }
    throw new UnauthorizedException(INVALID_REFRESH);
  }

  /** Ends the login `refreshToken` belongs to (spent or not). Unknown tokens are ignored. */
  async revoke(refreshToken: string, req?: Request): Promise<void> {
    const token = await this.refreshTokens.findByHash(sha256Hex(refreshToken));
    if (!token) return;
    await this.signIns.revokeLogins([token.loginId]);
    const login = await this.logins.findById(token.loginId);
    await this.audit.record(req, {
      type: 'logout',
      userId: login?.userId,
      details: { method: 'jwt', loginId: token.loginId },
    });
  }

  /** Neither past its absolute lifetime nor unused for longer than the idle timeout. */
  private isLive(login: TokenLogin): boolean {
    const now = Date.now();
    return (
      login.expiresAt.getTime() > now &&
      login.lastUsedAt.getTime() + this.config.jwt.loginIdleTimeoutSeconds * 1000 > now
    );
  }

  private pair(userId: string, login: TokenLogin, refreshToken: string): TokenPairResponse {
    const now = Math.floor(Date.now() / 1000);
    // Never outlive the login itself.
    const exp = Math.min(
      now + this.config.jwt.accessTokenTtlSeconds,
      Math.floor(login.expiresAt.getTime() / 1000),
    );
    const claims: AccessTokenClaims = {
      sub: userId,
      sid: login.id,
      jti: randomUUID(),
      iat: now,
      exp,
      iss: this.config.jwt.issuer,
      aud: this.config.jwt.audience,
    };
    return { accessToken: this.sign(claims), refreshToken, tokenType: 'Bearer', expiresIn: exp - now };
  }

  /** ES256 with the current signing key, its `kid` in the header (HS256 mode: JwtModule's JWT_SECRET). */
  private sign(claims: AccessTokenClaims): string {
    if (!this.signingKeys.enabled) return this.jwt.sign(claims);
    const { kid, privateKey } = this.signingKeys.signingKey();
    return this.jwt.sign(claims, {
      // A per-call `secret` is the one @nestjs/jwt gives precedence over the module's.
      secret: privateKey as unknown as Buffer,
      algorithm: 'ES256',
      header: { alg: 'ES256', typ: ACCESS_TOKEN_TYPE, kid },
    });
  }
}
