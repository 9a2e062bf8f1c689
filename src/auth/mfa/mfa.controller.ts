import { BadRequestException, Body, Controller, Delete, HttpCode, Post, Req } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiExtraModels,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiTags,
  ApiUnauthorizedResponse,
  getSchemaPath,
} from '@nestjs/swagger';
import type { Request } from 'express';
import { UserResponse } from '../../users/dto/user.response';
import { Auth } from '../decorators/auth.decorator';
import { Public } from '../decorators/public.decorator';
import { RateLimited } from '../decorators/rate-limited.decorator';
import { RecentAuthentication } from '../../common/recent-authentication.decorator';
import { SessionLoginResponse, TokenPairResponse } from '../dto/auth.responses';
import { SessionLoginService } from '../session/session-login.service';
import { TokenService } from '../tokens/token.service';
import { MfaVerifyDto, RecoveryCodesResponse, TotpCodeDto, TotpSetupResponse } from './dto/mfa.dto';
import { INVALID_MFA_TOKEN, MfaLoginService } from './mfa-login.service';
import { SecondFactorsService } from './second-factors.service';

/** Second factors: TOTP with recovery codes, and the second step of a password login. */
@ApiTags('auth')
@ApiExtraModels(SessionLoginResponse, TokenPairResponse)
@Controller('api/auth/mfa')
export class MfaController {
  constructor(
    private readonly factors: SecondFactorsService,
    private readonly logins: MfaLoginService,
    private readonly sessions: SessionLoginService,
    private readonly tokens: TokenService,
  ) {}

  @RecentAuthentication()
  @Post('totp')
  @HttpCode(200)
  @ApiOkResponse({ type: TotpSetupResponse, description: 'Pending until POST /mfa/totp/confirm' })
  @ApiConflictResponse({ description: 'TOTP is already set up' })
  beginTotp(@Req() req: Request): Promise<TotpSetupResponse> {
    return this.factors.beginTotp(req.auth!.user);
  }

  // Like its start (recent authentication), a set-up is finished by a sign-in, never by an API key.
  @Auth('session', 'jwt')
  @RateLimited('password')
  @Post('totp/confirm')
  @HttpCode(200)
  @ApiOkResponse({
    type: RecoveryCodesResponse,
    description: 'TOTP is on; the recovery codes are shown only now',
  })
  @ApiBadRequestResponse({ description: 'No set-up is waiting, or the code is not valid' })
  async confirmTotp(@Req() req: Request, @Body() body: TotpCodeDto): Promise<RecoveryCodesResponse> {
    return { recoveryCodes: await this.factors.confirmTotp(req, req.auth!.user, body.code) };
  }

  @RecentAuthentication()
  @Delete('totp')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'TOTP is off; its recovery codes are void' })
  removeTotp(@Req() req: Request): Promise<void> {
    return this.factors.removeTotp(req, req.auth!.user);
  }

  @RecentAuthentication()
  @Post('recovery-codes')
  @HttpCode(200)
  @ApiOkResponse({ type: RecoveryCodesResponse, description: 'A new set; the old one is void' })
  @ApiConflictResponse({ description: 'No TOTP is set up' })
  async newRecoveryCodes(@Req() req: Request): Promise<RecoveryCodesResponse> {
    return { recoveryCodes: await this.factors.newRecoveryCodes(req, req.auth!.user) };
  }

  @Public()
  @RateLimited('login')
  @Post('verify')
  @HttpCode(200)
  @ApiOkResponse({
    description:
      'What the password login would have answered: `{ user, csrfToken }` and the session cookie (POST /session), or a token pair (POST /token)',
    schema: {
      oneOf: [{ $ref: getSchemaPath(SessionLoginResponse) }, { $ref: getSchemaPath(TokenPairResponse) }],
    },
  })
  @ApiUnauthorizedResponse({ description: `\`${INVALID_MFA_TOKEN}\`, or \`Invalid code\`` })
  async verify(
    @Req() req: Request,
    @Body() body: MfaVerifyDto,
  ): Promise<SessionLoginResponse | TokenPairResponse> {
    if ((body.code === undefined) === (body.recoveryCode === undefined))
      throw new BadRequestException(['send either code or recoveryCode']);
    const { user, kind } = await this.logins.complete(req, body.mfaToken, body);
    if (kind === 'jwt') return this.tokens.issue(user, req);
    const csrfToken = await this.sessions.signIn(req, user);
    return { user: UserResponse.from(user), csrfToken };
  }
}
