import { ApiProperty } from '@nestjs/swagger';
import { UserResponse } from '../../users/dto/user.response';
import type { AuthMethod } from '../auth-context';

export class SessionLoginResponse {
  @ApiProperty({ type: UserResponse })
  user!: UserResponse;

  @ApiProperty({ description: 'Send it back in X-CSRF-Token on unsafe cookie-authenticated requests' })
  csrfToken!: string;
}

export class CsrfTokenResponse {
  @ApiProperty()
  csrfToken!: string;
}

export class TokenPairResponse {
  @ApiProperty({
    description:
      'JWT (ES256, verifiable with /.well-known/jwks.json; HS256 by choice); send as Authorization: Bearer',
  })
  accessToken!: string;

  @ApiProperty({ description: 'Opaque, single use; exchange at POST /api/auth/token/refresh' })
  refreshToken!: string;

  @ApiProperty({ enum: ['Bearer'] })
  tokenType!: 'Bearer';

  @ApiProperty({ description: 'Seconds until the access token expires', example: 900 })
  expiresIn!: number;
}

export class MeResponse extends UserResponse {
  @ApiProperty({ enum: ['session', 'jwt', 'apikey'] })
  authMethod!: AuthMethod;
}
