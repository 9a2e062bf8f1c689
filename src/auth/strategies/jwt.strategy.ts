import type { KeyObject } from 'node:crypto';
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
import { SigningKeysService } from '../tokens/signing-keys.service';

export const INVALID_ACCESS_TOKEN = 'Invalid or expired access token';

/** Where access tokens are read from: the Authorization header only. */
export const extractAccessToken = ExtractJwt.fromAuthHeaderAsBearerToken();

/**
 * Bearer access tokens: only from the Authorization header, ES256 by a published key
 * (or HS256, see verificationKeyFor), issuer and
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
    signingKeys: SigningKeysService,
  ) {
    // A KeyObject, not the string: jsonwebtoken otherwise tries (and fails) to
    // parse the secret as a public key on every verification.
    const hmac = jwtKey(config);
    super({
      jwtFromRequest: extractAccessToken,
      // The key is chosen by the token's header, and only one that this service would
      // sign with fits: ES256 by a published kid; HS256 with JWT_SECRET only in HS256
      // mode, or for tokens from before the switch to ES256. Anything else is 401.
      secretOrKeyProvider: (_req, rawJwt: string, done) => {
        const key = verificationKeyFor(rawJwt, config, signingKeys, hmac);
        return key
          ? done(null, key as unknown as Buffer)
          : done(new UnauthorizedException(INVALID_ACCESS_TOKEN));
      },
      algorithms: config.jwt.algorithm === 'ES256' ? ['ES256', 'HS256'] : ['HS256'],
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

/** The key that may verify `rawJwt`, from its header (not yet trusted: the signature check follows). */
function verificationKeyFor(
  rawJwt: string,
  config: AuthOptions,
  signingKeys: SigningKeysService,
  hmac: KeyObject,
): KeyObject | undefined {
  const [header, payload] = rawJwt.split('.').map((part) => {
    try {
      return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  });
  // (Its `typ` was checked by JwtAuthGuard before this runs.)
  if (!header || !payload) return undefined;
  if (config.jwt.algorithm === 'HS256')
    return header.alg === 'HS256' && header.kid === undefined ? hmac : undefined;
  if (header.alg === 'ES256' && typeof header.kid === 'string')
    return signingKeys.verificationKey(header.kid);
  const { iat, exp } = payload;
  if (
    header.alg === 'HS256' &&
    header.kid === undefined &&
    typeof iat === 'number' &&
    typeof exp === 'number'
  )
    return signingKeys.acceptsLegacyHs256(iat, exp) ? hmac : undefined;
  return undefined;
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
