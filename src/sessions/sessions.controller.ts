import {
  Controller,
  Delete,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  ParseUUIDPipe,
  Req,
} from '@nestjs/common';
import { ApiNoContentResponse, ApiNotFoundResponse, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { currentSignIn } from './current-sign-in';
import { SignInResponse } from './dto/sign-in.response';
import { SignInsService } from './sign-ins.service';
import { ApiListResponse } from '../common/api-list-response.decorator';
import { MAX_SIGN_INS_PER_USER } from './sign-in-method';

@ApiTags('sessions')
@Controller('api/sessions')
export class SessionsController {
  constructor(private readonly signIns: SignInsService) {}

  @Get()
  @ApiListResponse(SignInResponse, MAX_SIGN_INS_PER_USER, "The caller's own sign-ins, of both kinds")
  list(@Req() req: Request): Promise<SignInResponse[]> {
    return this.signIns.list(req.auth!.user.id, currentSignIn(req));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'That sign-in is over, on every instance' })
  @ApiNotFoundResponse({ description: 'The caller has no sign-in with this id' })
  async revoke(
    @Req() req: Request,
    @Param('id', new ParseUUIDPipe({ version: '4' })) id: string,
  ): Promise<void> {
    if (!(await this.signIns.revoke(req, id))) throw new NotFoundException('No such sign-in');
  }
}
