import { Controller, Delete, HttpCode, Param, ParseUUIDPipe, Req } from '@nestjs/common';
import { ApiNoContentResponse, ApiNotFoundResponse, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { BuiltInRole } from '../../roles/role-names';
import { Roles } from '../../roles/roles.decorator';
import { RecentAuthentication } from '../../common/recent-authentication.decorator';
import { SecondFactorsService } from './second-factors.service';

/** An admin resets a user's second factors (a lost phone). */
@ApiTags('users')
@Controller('api/users')
export class UserSecondFactorsController {
  constructor(private readonly factors: SecondFactorsService) {}

  @Roles(BuiltInRole.Admin)
  @RecentAuthentication()
  @Delete(':id/mfa')
  @HttpCode(204)
  @ApiNoContentResponse({
    description: 'TOTP, recovery codes and passkeys removed; the user is told by mail; audited',
  })
  @ApiNotFoundResponse()
  reset(@Req() req: Request, @Param('id', new ParseUUIDPipe()) id: string): Promise<void> {
    return this.factors.reset(req, id);
  }
}
