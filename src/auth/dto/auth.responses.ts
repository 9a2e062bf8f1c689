import { ApiProperty } from '@nestjs/swagger';
import { OPAQUE_SECRET_LENGTH } from '../../common/fields';
import { UserResponse } from '../../users/dto/user.response';
import type { User } from '../../users/user.entity';
import type { AuthMethod } from '../auth-context';

/** CsrfService's session token: csrf-sync's 32 random bytes, in hex. */
const CSRF_TOKEN_LENGTH = 64;

/**
 * The longest access token TokenService signs: ES256 (HS256's header and signature are
 * shorter), a header with a kid of at most 64 characters (signing_keys.kid), claims of
 * three UUIDs, two 10-digit times and an iss and an aud of at most 200 characters each
 * (JWT_ISSUER, JWT_AUDIENCE) that JSON escapes to at most 6 bytes a character, and the
 * 86-character signature. With the default issuer and audience it is about 470.
 */
const MAX_ACCESS_TOKEN_LENGTH = 3677;

export class SessionLoginResponse {
  @ApiProperty({ type: UserResponse })
  user!: UserResponse;

  @ApiProperty({
    description: 'Send it back in X-CSRF-Token on unsafe cookie-authenticated requests',
    maxLength: CSRF_TOKEN_LENGTH,
  })
  csrfToken!: string;
}

export class CsrfTokenResponse {
  @ApiProperty({ maxLength: CSRF_TOKEN_LENGTH })
  csrfToken!: string;
}

export class TokenPairResponse {
  @ApiProperty({
    description:
      'JWT (ES256, verifiable with /.well-known/jwks.json; HS256 by choice); send as Authorization: Bearer',
    maxLength: MAX_ACCESS_TOKEN_LENGTH,
  })
  accessToken!: string;

  @ApiProperty({
    description: 'Opaque, single use; exchange at POST /api/auth/token/refresh',
    maxLength: OPAQUE_SECRET_LENGTH,
  })
  refreshToken!: string;

  @ApiProperty({ enum: ['Bearer'] })
  tokenType!: 'Bearer';

  @ApiProperty({ description: 'Seconds until the access token expires', example: 900 })
  expiresIn!: number;
}

export class MeResponse extends UserResponse {
  @ApiProperty({ enum: ['session', 'jwt', 'apikey'] })
  authMethod!: AuthMethod;

  /**
   * The answer for this user object and method, made once: a cached user is replaced,
   * never changed, when the user changes, so the answer can be kept with it (frozen, as
   * it is shared). `GET /me` is the hottest authenticated route; this spares it the
   * copy, the roles' sort and the date's formatting on every request.
   */
  static of(user: User, authMethod: AuthMethod): MeResponse {
    let byMethod = answers.get(user);
    if (!byMethod) answers.set(user, (byMethod = {}));
    return (byMethod[authMethod] ??= deepFreeze(
      Object.assign(new MeResponse(), UserResponse.from(user), { authMethod }),
    ));
  }
}

const answers = new WeakMap<User, Partial<Record<AuthMethod, MeResponse>>>();

function deepFreeze<T extends object>(value: T): T {
  for (const nested of Object.values(value))
    if (typeof nested === 'object' && nested !== null) deepFreeze(nested);
  return Object.freeze(value);
}
