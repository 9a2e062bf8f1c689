import { ApiProperty } from '@nestjs/swagger';
import { IpAddressProperty, UserAgentProperty } from '../../common/fields';
import type { SignInMethod } from '../sign-in-method';

/** One sign-in on one device: a cookie session or a token login. */
export class SignInResponse {
  @ApiProperty({ format: 'uuid', description: 'Public handle: neither the session id nor a token' })
  id!: string;

  @ApiProperty({ enum: ['session', 'jwt'] })
  method!: SignInMethod;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ type: String, format: 'date-time', description: 'Precise to about a minute' })
  lastUsedAt!: string;

  @ApiProperty({
    type: String,
    format: 'date-time',
    description: 'When it ends if nothing else ends it first',
  })
  expiresAt!: string;

  @IpAddressProperty()
  ip!: string | null;

  @UserAgentProperty()
  userAgent!: string | null;

  @ApiProperty({ description: 'The sign-in this request was made with' })
  current!: boolean;
}
