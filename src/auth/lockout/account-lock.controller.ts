import { Controller, HttpCode, Param, ParseUUIDPipe, Post, Req } from '@nestjs/common';
import { ApiNoContentResponse, ApiNotFoundResponse, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { AuditService } from '../../audit/audit.service';
import { BuiltInRole } from '../../roles/role-names';
import { Roles } from '../../roles/roles.decorator';
import { UsersService } from '../../users/users.service';
import { LoginLockout } from './login-lockout.service';

/** The admin's way out of the per-account lock (a user locked by someone guessing their password). */
@ApiTags('users')
@Roles(BuiltInRole.Admin)
@Controller('api/users')
export class AccountLockController {
  constructor(
    private readonly users: UsersService,
    private readonly lockout: LoginLockout,
    private readonly audit: AuditService,
  ) {}

  @Post(':id/unlock')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'The account can sign in again: its failed attempts are forgotten' })
  @ApiNotFoundResponse()
  async unlock(@Req() req: Request, @Param('id', new ParseUUIDPipe()) id: string): Promise<void> {
    const user = await this.users.findByIdOrFail(id);
    await this.lockout.unlock(user.email);
    await this.audit.record(req, { type: 'account.unlocked', userId: id, actorId: req.auth!.user.id });
  }
}
