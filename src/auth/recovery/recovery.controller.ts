import { Body, Controller, HttpCode, Post, Req } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Request } from 'express';
import { UserResponse } from '../../users/dto/user.response';
import { CaptchaProtected } from '../captcha/captcha-protected.decorator';
import { AllowUnverified } from '../decorators/allow-unverified.decorator';
import { Public } from '../decorators/public.decorator';
import { RateLimited } from '../decorators/rate-limited.decorator';
import { RecentAuthentication } from '../../common/recent-authentication.decorator';
import { SessionLoginService } from '../session/session-login.service';
import {
  AcceptedResponse,
  ChangeEmailDto,
  EmailLinkDto,
  ForgotPasswordDto,
  ResetPasswordDto,
} from './dto/recovery.dto';
import { EmailVerificationService } from './email-verification.service';
import { PasswordResetService } from './password-reset.service';
import { INVALID_LINK, RESET_REQUESTED } from './recovery-messages';

/** Account recovery and verification by mailed links (the contract's section of that name). */
@ApiTags('auth')
@Controller('api/auth')
export class RecoveryController {
  constructor(
    private readonly resets: PasswordResetService,
    private readonly verification: EmailVerificationService,
    private readonly sessions: SessionLoginService,
  ) {}

  @Public()
  @RateLimited('recovery')
  @CaptchaProtected()
  @Post('password/forgot')
  @HttpCode(202)
  @ApiAcceptedResponse({
    type: AcceptedResponse,
    description: 'The same answer, in about the same time, whether or not the account exists',
  })
  async forgotPassword(@Req() req: Request, @Body() body: ForgotPasswordDto): Promise<AcceptedResponse> {
    await this.resets.request(body.email, req);
    return { message: RESET_REQUESTED };
  }

  @Public()
  @RateLimited('recovery')
  @Post('password/reset')
  @HttpCode(204)
  @ApiNoContentResponse({
    description: 'New password set; every sign-in of the user is revoked, none created',
  })
  @ApiBadRequestResponse({ description: `\`${INVALID_LINK}\`, or a password the rules refuse` })
  resetPassword(@Req() req: Request, @Body() body: ResetPasswordDto): Promise<void> {
    return this.resets.reset(body.token, body.newPassword, req);
  }

  @AllowUnverified()
  @RateLimited('recovery')
  @Post('email/verification')
  @HttpCode(202)
  @ApiAcceptedResponse({
    type: AcceptedResponse,
    description: "A verification link is mailed to the caller's address",
  })
  @ApiConflictResponse({ description: 'The address is verified already' })
  async sendVerification(@Req() req: Request): Promise<AcceptedResponse> {
    await this.verification.resend(req.auth!.user.id, req);
    return { message: 'A verification link is on its way to your address' };
  }

  @Public()
  @RateLimited('recovery')
  @Post('email/verify')
  @HttpCode(200)
  @ApiOkResponse({
    type: UserResponse,
    description:
      'A verification link: the address is verified. An email-change link: the account moves to the new address (verified), the old one is told, every other sign-in ends',
  })
  @ApiBadRequestResponse({ description: INVALID_LINK })
  @ApiConflictResponse({ description: 'The new address was taken meanwhile' })
  async verifyEmail(@Req() req: Request, @Body() body: EmailLinkDto): Promise<UserResponse> {
    const { user, credentialVersion } = await this.verification.follow(body.token, req);
    // Followed in a browser signed in to this account: that sign-in is the one that stays.
    if (credentialVersion !== undefined && req.session?.userId === user.id)
      await this.sessions.renewId(req, credentialVersion);
    return UserResponse.from(user);
  }

  @AllowUnverified()
  @RateLimited('recovery')
  @RecentAuthentication()
  @Post('email/change')
  @HttpCode(202)
  @ApiAcceptedResponse({
    type: AcceptedResponse,
    description: 'A link goes to the new address; the email changes when it is followed',
  })
  @ApiBadRequestResponse({ description: 'Invalid fields, or the address is yours already' })
  @ApiConflictResponse({ description: 'An account with this email already exists' })
  async changeEmail(@Req() req: Request, @Body() body: ChangeEmailDto): Promise<AcceptedResponse> {
    await this.verification.requestChange(req, body.newEmail, body.password);
    return { message: 'A confirmation link is on its way to the new address' };
  }
}
