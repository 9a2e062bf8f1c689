import { Controller, HttpCode, Param, ParseUUIDPipe, Post, Req } from '@nestjs/common';
import { ApiAcceptedResponse, ApiConflictResponse, ApiNotFoundResponse, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { BuiltInRole } from '../../roles/role-names';
import { Roles } from '../../roles/roles.decorator';
import { AcceptedResponse } from './dto/recovery.dto';
import { EmailVerificationService } from './email-verification.service';

/** An admin resends a user's verification mail. */
@ApiTags('users')
@Controller('api/users')
export class UserEmailVerificationController {
  constructor(private readonly verification: EmailVerificationService) {}

  @Roles(BuiltInRole.Admin)
  @Post(':id/email/verification')
  @HttpCode(202)
  @ApiAcceptedResponse({
    type: AcceptedResponse,
    description: "A verification link is mailed to the user's address",
  })
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'The address is verified already' })
  async resend(@Req() req: Request, @Param('id', new ParseUUIDPipe()) id: string): Promise<AcceptedResponse> {
    await this.verification.resend(id, req);
    return { message: "A verification link is on its way to the user's address" };
  }
}
