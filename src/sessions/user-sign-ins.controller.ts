import { Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Req } from '@nestjs/common';
import { ApiNoContentResponse, ApiNotFoundResponse, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { AuditService } from '../audit/audit.service';
import { BuiltInRole } from '../roles/role-names';
import { Roles } from '../roles/roles.decorator';
import { UsersService } from '../users/users.service';
import { SignInResponse } from './dto/sign-in.response';
import { SignInsService } from './sign-ins.service';
import { ApiListResponse } from '../common/api-list-response.decorator';
import { MAX_SIGN_INS_PER_USER } from './sign-in-method';

/** An admin's view of another user's sign-ins: `/api/users/:id/sessions`. */
@ApiTags('users')
@Roles(BuiltInRole.Admin)
@Controller('api/users')
export class UserSignInsController {
  constructor(
    private readonly users: UsersService,
    private readonly signIns: SignInsService,
    private readonly audit: AuditService,
  ) {}

  @Get(':id/sessions')
  @ApiListResponse(SignInResponse, MAX_SIGN_INS_PER_USER)
  @ApiNotFoundResponse()
  async list(@Param('id', new ParseUUIDPipe()) id: string): Promise<SignInResponse[]> {
    await this.users.findByIdOrFail(id);
    return this.signIns.list(id);
  }

  @Delete(':id/sessions')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Every sign-in of that user is over, on every instance' })
  @ApiNotFoundResponse()
  async revokeAll(@Req() req: Request, @Param('id', new ParseUUIDPipe()) id: string): Promise<void> {
    await this.users.endAllSignIns(id);
    await this.audit.record(req, { type: 'signins.revoked_all', userId: id, actorId: req.auth!.user.id });
  }
}
