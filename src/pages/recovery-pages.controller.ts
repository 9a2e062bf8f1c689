import {
  BadRequestException,
  Body,
  ConflictException,
  Controller,
  ForbiddenException,
  Get,
  HttpException,
  Next,
  Post,
  Query,
  Req,
  Res,
  UseFilters,
} from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import { CaptchaService } from '../auth/captcha/captcha.service';
import { AllowUnverified } from '../auth/decorators/allow-unverified.decorator';
import { Auth } from '../auth/decorators/auth.decorator';
import { Public } from '../auth/decorators/public.decorator';
import { RateLimited } from '../auth/decorators/rate-limited.decorator';
import { EmailLinkDto, ForgotPasswordDto, ResetPasswordDto } from '../auth/recovery/dto/recovery.dto';
import { EmailVerificationService } from '../auth/recovery/email-verification.service';
import { PasswordResetService } from '../auth/recovery/password-reset.service';
import { INVALID_LINK, RESET_REQUESTED } from '../auth/recovery/recovery-messages';
import { CsrfService } from '../auth/session/csrf.service';
import { SessionLoginService } from '../auth/session/session-login.service';
import { PasswordPolicy } from '../users/password-policy';
import { checkForm, messageOf } from './form-errors';
import { PageExceptionFilter } from './page-exception.filter';
import { PageRenderer } from './page-renderer';

/** The `token` of a mailed link, as the query string or a form gives it: one bounded string, or nothing. */
function linkToken(token: unknown): string | undefined {
  return typeof token === 'string' && token.length >= 1 && token.length <= 512 ? token : undefined;
}

/**
 * The pages that mailed links open (PUBLIC_URL + /reset-password, /verify-email,
 * /confirm-email) and the forgot-password form. They work without a sign-in, so
 * their forms carry the anonymous CSRF token, and without JavaScript. Opening a
 * link (GET) never spends it: mail scanners fetch links before people do, so each
 * page shows a button that POSTs the token.
 */
@ApiExcludeController()
@UseFilters(PageExceptionFilter)
@Controller()
export class RecoveryPagesController {
  constructor(
    private readonly resets: PasswordResetService,
    private readonly verification: EmailVerificationService,
    private readonly sessions: SessionLoginService,
    private readonly captcha: CaptchaService,
    private readonly csrf: CsrfService,
    private readonly policy: PasswordPolicy,
    private readonly pages: PageRenderer,
  ) {}

  // --- Forgot password -------------------------------------------------------------

  @Public()
  @Get('forgot-password')
  forgotPage(@Req() req: Request, @Res() res: Response): void {
    this.renderForgotForm(req, res, {});
  }

  /** The same page for every address, known or not: the work is queued (PasswordResetService.request). */
  @Public()
  @RateLimited('recovery')
  @Post('forgot-password')
  async forgot(
    @Req() req: Request,
    @Res() res: Response,
    @Body() body: Record<string, unknown>,
  ): Promise<void> {
    this.requireAnonymousFormToken(req);
    const { value, errors } = await checkForm(ForgotPasswordDto, body);
    const values = { email: value.email };
    const captchaError = await this.captchaProblem(req);
    if (captchaError) return this.renderForgotForm(req, res, { values, errors, error: captchaError }, 400);
    if (Object.keys(errors).length) return this.renderForgotForm(req, res, { values, errors }, 400);
    await this.resets.request(value.email, req);
    this.pages.render(req, res, 'forgot-password', { title: 'Check your mail', sent: `${RESET_REQUESTED}.` });
  }

  // --- Reset password --------------------------------------------------------------

  @Public()
  @Get('reset-password')
  async resetPage(@Req() req: Request, @Res() res: Response, @Query('token') token?: unknown): Promise<void> {
    const usable = linkToken(token);
    if (!usable || !(await this.resets.linkIsUsable(usable))) return this.renderInvalidResetLink(req, res);
    this.renderResetForm(req, res, usable, {});
  }

  @Public()
  @RateLimited('recovery')
  @Post('reset-password')
  async reset(
    @Req() req: Request,
    @Res() res: Response,
    @Body() body: Record<string, unknown>,
  ): Promise<void> {
    this.requireAnonymousFormToken(req);
    const { value, errors } = await checkForm(ResetPasswordDto, body);
    const token = linkToken(value.token);
    if (!token) return this.renderInvalidResetLink(req, res);
    if (errors.newPassword) return this.renderResetForm(req, res, token, { errors }, 400);
    try {
      await this.resets.reset(token, value.newPassword, req);
    } catch (error) {
      if (!(error instanceof BadRequestException)) throw error;
      if (messageOf(error) === INVALID_LINK) return this.renderInvalidResetLink(req, res);
      return this.renderResetForm(req, res, token, { errors: { newPassword: messageOf(error) } }, 400);
    }
    this.pages.render(req, res, 'reset-password', { title: 'Password changed', done: true });
  }

  // --- Email verification ----------------------------------------------------------

  /**
   * A mailed link (`?token=`): a button to confirm. Without a token this is the
   * signed-in status page below: Express goes on to the next route of the same path,
   * which needs a session (and so sends a signed-out visitor to the sign-in form).
   */
  @Public()
  @Get('verify-email')
  async verifyLinkPage(
    @Req() req: Request,
    @Res() res: Response,
    @Next() next: NextFunction,
    @Query('token') token?: unknown,
  ): Promise<void> {
    if (token === undefined) return next();
    await this.renderLinkPage(req, res, token, 'verify-email');
  }

  @Auth('session')
  @AllowUnverified()
  @Get('verify-email')
  verifyStatusPage(@Req() req: Request, @Res() res: Response): void {
    this.renderVerifyStatus(req, res, {});
  }

  @Auth('session')
  @AllowUnverified()
  @RateLimited('recovery')
  @Post('verify-email/resend')
  async resendVerification(@Req() req: Request, @Res() res: Response): Promise<void> {
    const user = req.auth!.user;
    try {
      await this.verification.resend(user.id, req);
    } catch (error) {
      if (error instanceof ConflictException)
        return this.renderVerifyStatus(req, res, { error: 'This address is verified already.' }, 409);
      if (error instanceof HttpException && error.getStatus() === 429) {
        this.pages.retryAfter(res, error);
        return this.renderVerifyStatus(req, res, { error: `${messageOf(error)}.` }, 429);
      }
      throw error;
    }
    this.renderVerifyStatus(req, res, { status: `A new link is on its way to ${user.email}.` });
  }

  @Public()
  @RateLimited('recovery')
  @Post('verify-email')
  followVerifyLink(
    @Req() req: Request,
    @Res() res: Response,
    @Body() body: Record<string, unknown>,
  ): Promise<void> {
    return this.followLink(req, res, body, 'verify-email');
  }

  // --- Email change ----------------------------------------------------------------

  @Public()
  @Get('confirm-email')
  confirmLinkPage(@Req() req: Request, @Res() res: Response, @Query('token') token?: unknown): Promise<void> {
    return this.renderLinkPage(req, res, token, 'confirm-email');
  }

  @Public()
  @RateLimited('recovery')
  @Post('confirm-email')
  followConfirmLink(
    @Req() req: Request,
    @Res() res: Response,
    @Body() body: Record<string, unknown>,
  ): Promise<void> {
    return this.followLink(req, res, body, 'confirm-email');
  }

  // --- Helpers ---------------------------------------------------------------------

  /**
   * The button for a verification or email-change link, on the page of what the link
   * does (whichever of the two it was opened on); spends nothing.
   */
  private async renderLinkPage(
    req: Request,
    res: Response,
    token: unknown,
    page: 'verify-email' | 'confirm-email',
  ): Promise<void> {
    const usable = linkToken(token);
    const purpose = usable ? await this.verification.linkPurpose(usable) : null;
    if (!purpose) return this.renderInvalidEmailLink(req, res, page);
    if (purpose === 'email_verification')
      return this.pages.renderAnonymousForm(req, res, 'verify-email', {
        title: 'Confirm this address',
        confirm: true,
        token: usable,
      });
    this.pages.renderAnonymousForm(req, res, 'confirm-email', {
      title: 'Confirm the new address',
      confirm: true,
      token: usable,
    });
  }

  /**
   * Follows a verification or email-change link (either page's button; the service
   * tells them apart). An email change ends every sign-in of the account but this
   * browser's, when it is signed in to that account, as POST /api/auth/email/verify does.
   */
  private async followLink(
    req: Request,
    res: Response,
    body: Record<string, unknown>,
    page: 'verify-email' | 'confirm-email',
  ): Promise<void> {
    this.requireAnonymousFormToken(req);
    const { value, errors } = await checkForm(EmailLinkDto, body);
    const token = linkToken(value.token);
    if (!token || errors.token) return this.renderInvalidEmailLink(req, res, page);
    let followed;
    try {
      followed = await this.verification.follow(token, req);
    } catch (error) {
      if (error instanceof BadRequestException) return this.renderInvalidEmailLink(req, res, page);
      if (error instanceof ConflictException)
        return this.pages.render(
          req,
          res,
          'confirm-email',
          {
            title: 'Address taken',
            invalid:
              'An account with this email address was created meanwhile: your address was not changed.',
          },
          409,
        );
      throw error;
    }
    const { user, credentialVersion } = followed;
    if (credentialVersion === undefined)
      return this.pages.render(req, res, 'verify-email', {
        title: 'Address verified',
        done: true,
        email: user.email,
      });
    const staysSignedIn = req.session?.userId === user.id;
    if (staysSignedIn) await this.sessions.renewId(req, credentialVersion);
    this.pages.render(req, res, 'confirm-email', {
      title: 'Email address changed',
      done: true,
      email: user.email,
      staysSignedIn,
    });
  }

  private renderForgotForm(req: Request, res: Response, locals: Record<string, unknown>, status = 200): void {
    this.pages.renderAnonymousForm(
      req,
      res,
      'forgot-password',
      { title: 'Forgot your password?', values: {}, captcha: this.captcha.widget, ...locals },
      status,
    );
  }

  private renderResetForm(
    req: Request,
    res: Response,
    token: string,
    locals: Record<string, unknown>,
    status = 200,
  ): void {
    this.pages.renderAnonymousForm(
      req,
      res,
      'reset-password',
      { title: 'Choose a new password', token, minLength: this.policy.minLength, ...locals },
      status,
    );
  }

  private renderInvalidResetLink(req: Request, res: Response): void {
    this.pages.render(
      req,
      res,
      'reset-password',
      { title: 'Link not usable', invalid: `${INVALID_LINK}.` },
      400,
    );
  }

  private renderInvalidEmailLink(req: Request, res: Response, page: 'verify-email' | 'confirm-email'): void {
    this.pages.render(req, res, page, { title: 'Link not usable', invalid: `${INVALID_LINK}.` }, 400);
  }

  private renderVerifyStatus(
    req: Request,
    res: Response,
    locals: Record<string, unknown>,
    status = 200,
  ): void {
    const user = req.auth!.user;
    this.pages.render(
      req,
      res,
      'verify-email',
      {
        title: 'Email verification',
        overview: true,
        email: user.email,
        verified: user.emailVerified,
        ...locals,
      },
      status,
    );
  }

  /** The captcha's refusal as a message for the form (undefined: passed, or no captcha configured). */
  private async captchaProblem(req: Request): Promise<string | undefined> {
    try {
      await this.captcha.verify(req);
      return undefined;
    } catch (error) {
      if (error instanceof BadRequestException) return `${messageOf(error)}.`;
      throw error;
    }
  }

  /** Signed-in forms pass the session's CSRF check in the global guard; these come before a sign-in. */
  private requireAnonymousFormToken(req: Request): void {
    if (!this.csrf.isAnonymousFormTokenValid(req))
      throw new ForbiddenException('Missing or invalid CSRF token');
  }
}
