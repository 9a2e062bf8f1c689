import { Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { AUTH_OPTIONS, type AuthOptions } from '../auth.options';
import { UserCache } from '../../users/user-cache';
import type { AuthContext } from '../auth-context';
import { TokenLoginCache } from '../../sessions/token-login-cache';
import { TokenLoginActivity } from '../../sessions/token-login-activity';
import type { AccessTokenClaims } from '../tokens/token.service';
import { privateRegistry } from './run-strategy';
import { jwtKey } from '../tokens/jwt-key';

export const INVALID_ACCESS_TOKEN = 'Invalid or expired access token';

/** Where access tokens are read from: the Authorization header only. */
export const extractAccessToken = ExtractJwt.fromAuthHeaderAsBearerToken();

/**
 * Bearer access tokens: only from the Authorization header, HS256 only, issuer and
 * audience checked; then the login must be live and the subject's, and the user must
 * exist and be enabled. Both checks are in memory (see TokenLoginCache, UserCache).
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    @Inject(AUTH_OPTIONS) config: AuthOptions,
    private readonly logins: TokenLoginCache,
    private readonly users: UserCache,
    private readonly activity: TokenLoginActivity,
  ) {
    super({
      jwtFromRequest: extractAccessToken,
      // A KeyObject, not the string: jsonwebtoken otherwise tries (and fails) to
      // parse the secret as a public key on every verification.
      secretOrKey: jwtKey(config) as unknown as Buffer,
      algorithms: ['HS256'],
      issuer: config.jwt.issuer,
      audience: config.jwt.audience,
      ignoreExpiration: false,
    });
  }

  getPassportInstance() {
    return privateRegistry();
  }

  async validate(claims: AccessTokenClaims): Promise<AuthContext> {
    if (!isWellFormed(claims)) throw new UnauthorizedException(INVALID_ACCESS_TOKEN);
    // The login must exist, be the subject's, and be neither revoked nor over.
    const login = this.logins.peek(claims.sid) ?? (await this.logins.get(claims.sid));
    if (!login || login === 'revoked' || login.userId !== claims.sub || login.expiresAt <= Date.now())
      throw new UnauthorizedException(INVALID_ACCESS_TOKEN);
    const user = this.users.peek(claims.sub) ?? (await this.users.get(claims.sub));
    // A login from before the user's last "end every sign-in" is over, revoked row or not.
    if (!user || user.disabled || user.credentialVersion !== login.credentialVersion)
      throw new UnauthorizedException(INVALID_ACCESS_TOKEN);
    this.activity.touch(claims.sid);
    return { user, method: 'jwt', loginId: claims.sid };
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CLOCK_SKEW_SECONDS = 60;

/**
 * Every claim we issue is present and of its type. jsonwebtoken accepts a token
 * without `exp`, and checks neither `iat` nor our own claims.
 */
function isWellFormed(claims: Partial<AccessTokenClaims> | null): boolean {
  if (typeof claims !== 'object' || claims === null) return false;
  const { sub, sid, jti, iat, exp } = claims;
  return (
    typeof sub === 'string' &&
    UUID.test(sub) &&
    typeof sid === 'string' &&
    UUID.test(sid) &&
    typeof jti === 'string' &&
    Number.isInteger(iat) &&
    Number.isInteger(exp) &&
    iat! <= Date.now() / 1000 + CLOCK_SKEW_SECONDS &&
    exp! > iat!
  );
}
