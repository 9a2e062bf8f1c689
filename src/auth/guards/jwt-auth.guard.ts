import { HttpException, Injectable, Logger, UnauthorizedException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { BoundedMap } from '../../common/bounded-map';
import { isDependencyUnavailable } from '../../common/dependency-unavailable';
import type { AuthContext } from '../auth-context';
import { extractAccessToken, INVALID_ACCESS_TOKEN, JwtStrategy } from '../strategies/jwt.strategy';
import { runStrategy } from '../strategies/run-strategy';
import { ACCESS_TOKEN_TYPE } from '../tokens/access-token-type';
import type { AccessTokenClaims } from '../tokens/token.service';

/** Access tokens remembered as verified, per instance (about 30 MB when full). */
const REMEMBERED_TOKENS = 50_000;

/** `typ` is a media type: compared case-insensitively, with or without `application/`. */
const ACCESS_TOKEN_TYPES = new Set([ACCESS_TOKEN_TYPE, `application/${ACCESS_TOKEN_TYPE}`]);

/**
 * passport-jwt, with one fixed 401 message for every fault of the token: no library
 * text reaches the client. Only the database being unreachable while a well-formed
 * token is checked is not the client's fault; it goes on to the filter as a 503.
 *
 * A token passport-jwt has accepted is remembered, by its exact text, until it
 * expires: the same string has the same signature and claims, so its next requests
 * skip passport and the signature check (most of a bearer request's cost) and go
 * straight to the checks that can change, the login's revocation and the user's
 * state (JwtStrategy.validate), which run on every request. A token that differs
 * in a single character is a stranger and goes through passport-jwt.
 *
 * Before that, the header must say `typ: at+jwt` (RFC 9068: an ID token or any other
 * JWT signed with the same key cannot pass for an access token) and carry no `crit`
 * (RFC 7515: extensions we do not implement must be refused, and we implement none).
 * jsonwebtoken checks neither, hence this check by hand.
 */
@Injectable()
export class JwtAuthGuard {
  private readonly logger = new Logger(JwtAuthGuard.name);
  private readonly verified = new BoundedMap<string, AccessTokenClaims>(REMEMBERED_TOKENS);

  constructor(private readonly strategy: JwtStrategy) {}

  async authenticate(req: Request, res: Response): Promise<AuthContext> {
    const token = extractAccessToken(req);
    const known = token ? this.verified.get(token) : undefined;
    if (known && token) {
      // jsonwebtoken's rule: expired once the current second reaches `exp`.
      if (Math.floor(Date.now() / 1000) < known.exp) return this.strategy.validate(known);
      this.verified.delete(token);
    }
    if (!token || !hasAccessTokenHeader(token)) throw new UnauthorizedException(INVALID_ACCESS_TOKEN);
    const context = await this.viaPassport(req, res);
    this.verified.set(token, payloadOf(token));
    return context;
  }

  private async viaPassport(req: Request, res: Response): Promise<AuthContext> {
    let outcome;
    try {
      outcome = await runStrategy<AuthContext>(this.strategy, req, res);
    } catch (error) {
      // jsonwebtoken throws outside passport's callbacks on some hostile payloads (`null`).
      this.logger.warn(`Access token rejected by an exception: ${(error as Error).message}`);
      throw new UnauthorizedException(INVALID_ACCESS_TOKEN);
    }
    const { error, user } = outcome;
    if (error instanceof HttpException || isDependencyUnavailable(error)) throw error;
    if (error) {
      this.logger.warn(`Access token rejected by an exception: ${(error as Error).message}`);
      throw new UnauthorizedException(INVALID_ACCESS_TOKEN);
    }
    if (!user) throw new UnauthorizedException(INVALID_ACCESS_TOKEN);
    return user;
  }
}

function hasAccessTokenHeader(token: string): boolean {
  try {
    const header: unknown = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8'));
    if (typeof header !== 'object' || header === null || 'crit' in header) return false;
    const type = (header as { typ?: unknown }).typ;
    return typeof type === 'string' && ACCESS_TOKEN_TYPES.has(type.toLowerCase());
  } catch {
    return false;
  }
}

/** The claims of a token passport-jwt has just verified. */
function payloadOf(token: string): AccessTokenClaims {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as AccessTokenClaims;
}
