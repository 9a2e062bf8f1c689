import { ConflictException, Controller, Post, Req } from '@nestjs/common';
import { ApiConflictResponse, ApiCreatedResponse, ApiProperty, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { RecentAuthentication } from '../../common/recent-authentication.decorator';
import { BuiltInRole } from '../../roles/role-names';
import { Roles } from '../../roles/roles.decorator';
import { MAX_KID_LENGTH, MAX_PUBLISHED_SIGNING_KEYS } from './signing-key.entity';
import { SigningKeysService } from './signing-keys.service';

class RotatedKeyResponse {
  @ApiProperty({ description: 'The new key, which signs from now on', maxLength: MAX_KID_LENGTH })
  kid!: string;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;
}

@ApiTags('operations')
@Controller('api/admin/signing-keys')
export class SigningKeysController {
  constructor(private readonly keys: SigningKeysService) {}

  @Roles(BuiltInRole.Admin)
  @RecentAuthentication()
  @Post('rotate')
  @ApiCreatedResponse({
    type: RotatedKeyResponse,
    description:
      'New tokens carry the new kid on every instance; older keys stay published until their last token expires',
  })
  @ApiConflictResponse({
    description: `JWT_ALGORITHM=HS256: there are no signing keys; or the key set would then publish more than ${MAX_PUBLISHED_SIGNING_KEYS} keys (wait until the oldest retired key expires)`,
  })
  rotate(@Req() req: Request): Promise<RotatedKeyResponse> {
    if (!this.keys.enabled)
      throw new ConflictException('JWT_ALGORITHM=HS256 signs with JWT_SECRET: there are no keys to rotate');
    return this.keys.rotate(req);
  }
}
