import {
  BadRequestException,
  Body,
  ConflictException,
  Controller,
  ForbiddenException,
  Get,
  HttpException,
  Post,
  Query,
  Req,
  Res,
  UnauthorizedException,
  UseFilters,
} from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AuthService } from '../auth/auth.service';
import { CaptchaService } from '../auth/captcha/captcha.service';
import { AllowUnverified } from '../auth/decorators/allow-unverified.decorator';
import { Auth } from '../auth/decorators/auth.decorator';
import { Public } from '../auth/decorators/public.decorator';
import { RateLimited } from '../auth/decorators/rate-limited.decorator';
import { CredentialsDto } from '../auth/dto/credentials.dto';
import { MfaVerifyDto } from '../auth/mfa/dto/mfa.dto';
import { INVALID_MFA_TOKEN, MfaLoginService } from '../auth/mfa/mfa-login.service';
import { SignupDto } from '../auth/dto/signup.dto';
import { PasswordLogin } from '../auth/password-login.service';
import { CsrfService } from '../auth/session/csrf.service';
import { SessionLoginService } from '../auth/session/session-login.service';
import type { User } from '../users/user.entity';
import { PasswordPolicy } from '../users/password-policy';
import { checkForm, messageOf } from './form-errors';
import { PageExceptionFilter } from './page-exception.filter';
import { PageRenderer } from './page-renderer';
import { safeNext } from './safe-next';

const LOCKED = 'Too many failed attempts for this account: try again later.';
const SIGN_IN_AGAIN = `${INVALID_MFA_TOKEN}.`;
const RECOVERY_CODE_FORMAT = 'Enter one of your recovery codes (like XXXX-XXXX-XXXX-XXXX).';

/**
 * Signing in, signing up and signing out. The sign-in and sign-up forms come
 * before a session, so they carry an anonymous CSRF token (a cookie): a visitor
 * writes nothing until signed in. A user with a second factor gets a second form
 * after the password (POST /login/mfa), which carries the service's `mfaToken`: no
 * session exists between the two steps. The passkey button (passkeys.js, the pages'
 * only script) signs in through the JSON API and then follows `next`.
 */
@ApiExcludeController()
@UseFilters(PageExceptionFilter)
@Controller()
export class SignInController {
  constructor(
    private readonly auth: AuthService,
    private readonly login: PasswordLogin,
    private readonly mfa: MfaLoginService,
    private readonly sessions: SessionLoginService,
    private readonly csrf: CsrfService,
    private readonly policy: PasswordPolicy,
    private readonly captcha: CaptchaService,
    private readonly pages: PageRenderer,
  ) {}

  @Public()
  @Get()
  home(@Req() req: Request, @Res() res: Response): void {
    res.redirect(303, req.session?.userId ? '/profile' : '/login');
  }

  @Public()
  @Get('login')
  loginPage(@Req() req: Request, @Res() res: Response, @Query('next') next?: string): void {
    if (req.session?.userId) return res.redirect(303, safeNext(next));
    this.renderLoginForm(req, res, { next: safeNext(next), values: {} });
  }

  @Public()
  @RateLimited('login')
  @Post('login')
  async signIn(
    @Req() req: Request,
    @Res() res: Response,
    @Body() body: Record<string, unknown>,
  ): Promise<void> {
    this.requireAnonymousFormToken(req);
    const next = safeNext(body.next);
    const { value, errors } = await checkForm(CredentialsDto, body);
    const retry = (status: number, error: string) =>
      this.renderLoginForm(req, res, { next, error, values: { email: value.email } }, status);
    if (Object.keys(errors).length) return retry(400, 'Enter your email and password.');
    let user: User;
    try {
      user = await this.login.authenticate(req, res, value);
    } catch (error) {
      if (error instanceof UnauthorizedException) return retry(401, 'Invalid email or password.');
      if (error instanceof HttpException && error.getStatus() === 429) {
        this.pages.retryAfter(res, error);
        return retry(429, LOCKED);
      }
      throw error;
    }
    // The password was right; with a second factor, the sign-in waits for it (and no session is made).
    if (this.mfa.isRequired(user)) {
      const { mfaToken } = await this.mfa.challenge(user, 'session');
      return this.renderSecondStep(req, res, { next, mfaToken });
    }
    await this.sessions.signIn(req, user);
    res.redirect(303, next);
  }

  /**
   * The second step: a TOTP code or a recovery code for the `mfaToken` the password
   * step handed out. A wrong code keeps the step (same token) and counts against the
   * account lock; an expired or spent token sends the visitor back to the password.
   */
  @Public()
  @RateLimited('login')
  @Post('login/mfa')
  async secondStep(
    @Req() req: Request,
    @Res() res: Response,
    @Body() body: Record<string, unknown>,
  ): Promise<void> {
    this.requireAnonymousFormToken(req);
    const next = safeNext(body.next);
    const { value, errors } = await checkForm(MfaVerifyDto, body);
    if (errors.mfaToken)
      return this.renderLoginForm(req, res, { next, error: SIGN_IN_AGAIN, values: {} }, 400);
    const { mfaToken } = value;
    const usesRecoveryCode = value.recoveryCode !== undefined || errors.recoveryCode !== undefined;
    const field = usesRecoveryCode ? 'recoveryCode' : 'code';
    const retry = (status: number, fieldErrors: Record<string, string>, error?: string) =>
      this.renderSecondStep(
        req,
        res,
        { next, mfaToken, errors: fieldErrors, error, recoveryOpen: usesRecoveryCode },
        status,
      );
    // One of the two forms was sent: its one field, well-formed (checked before the lock counts anything).
    if (
      errors.code ||
      errors.recoveryCode ||
      (value.code === undefined) === (value.recoveryCode === undefined)
    )
      return retry(400, {
        [field]: usesRecoveryCode ? RECOVERY_CODE_FORMAT : 'Enter the 6 digits your authenticator app shows.',
      });
    let completed: Awaited<ReturnType<MfaLoginService['complete']>>;
    try {
      completed = await this.mfa.complete(
        req,
        mfaToken,
        value.code !== undefined ? { code: value.code } : { recoveryCode: value.recoveryCode },
        // A token login's step (POST /api/auth/token) never becomes a browser session, and is not spent here.
        'session',
      );
    } catch (error) {
      if (error instanceof UnauthorizedException) {
        if (messageOf(error) === INVALID_MFA_TOKEN)
          return this.renderLoginForm(req, res, { next, error: SIGN_IN_AGAIN, values: {} }, 401);
        return retry(401, {
          [field]: usesRecoveryCode
            ? 'This recovery code is not valid, or was used already.'
            : 'This code is not valid: enter the current one from your authenticator app.',
        });
      }
      if (error instanceof HttpException && error.getStatus() === 429) {
        this.pages.retryAfter(res, error);
        return retry(429, {}, LOCKED);
      }
      throw error;
    }
    await this.sessions.signIn(req, completed.user);
    res.redirect(303, next);
  }

  @Public()
  @Get('signup')
  signupPage(@Req() req: Request, @Res() res: Response): void {
    this.pages.renderAnonymousForm(req, res, 'signup', {
      title: 'Create account',
      values: {},
      minLength: this.policy.minLength,
      captcha: this.captcha.widget,
    });
  }

  @Public()
  @RateLimited('signup')
  @Post('signup')
  async signup(
    @Req() req: Request,
    @Res() res: Response,
    @Body() body: Record<string, unknown>,
  ): Promise<void> {
    this.requireAnonymousFormToken(req);
    const { value, errors } = await checkForm(SignupDto, body);
    const retry = (status: number, fieldErrors: Record<string, string>, error?: string) =>
      this.pages.renderAnonymousForm(
        req,
        res,
        'signup',
        {
          title: 'Create account',
          values: { email: value.email, name: value.name },
          errors: fieldErrors,
          error,
          minLength: this.policy.minLength,
          captcha: this.captcha.widget,
        },
        status,
      );
    // The API route has @CaptchaProtected(); this form must not be the way around it.
    try {
      await this.captcha.verify(req);
    } catch (error) {
      if (error instanceof BadRequestException) return retry(400, errors, `${messageOf(error)}.`);
      throw error;
    }
    // List every fault at once: the password rules too, not only the form's shape. A
    // well-formed form gets them from AuthService.signup instead (checked once, not twice).
    if (Object.keys(errors).length && typeof value.password === 'string' && !errors.password) {
      const [problem] = this.policy.problems(value.password, 'password', [value.email, value.name]);
      if (problem) errors.password = problem;
    }
    if (Object.keys(errors).length) return retry(400, errors);
    let user: User;
    try {
      user = await this.auth.signup(value, req);
    } catch (error) {
      if (error instanceof ConflictException)
        return retry(409, { email: 'An account with this email already exists.' });
      if (error instanceof BadRequestException) return retry(400, { password: messageOf(error) });
      throw error;
    }
    await this.sessions.signIn(req, user);
    res.redirect(303, '/profile');
  }

  @Auth('session')
  @AllowUnverified()
  @Post('logout')
  async logout(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.sessions.logOut(req, res);
    res.redirect(303, '/login');
  }

  private renderLoginForm(req: Request, res: Response, locals: Record<string, unknown>, status = 200): void {
    this.pages.renderAnonymousForm(
      req,
      res,
      'login',
      { title: 'Sign in', passkeyScripts: true, ...locals },
      status,
    );
  }

  private renderSecondStep(
    req: Request,
    res: Response,
    locals: { next: string; mfaToken: string } & Record<string, unknown>,
    status = 200,
  ): void {
    this.pages.renderAnonymousForm(
      req,
      res,
      'login-second-step',
      {
        title: 'Two-step sign-in',
        errors: {},
        startAgain: `/login?next=${encodeURIComponent(locals.next)}`,
        ...locals,
      },
      status,
    );
  }

  /** Signed-in forms pass the session's CSRF check in the global guard; these come before a sign-in. */
  private requireAnonymousFormToken(req: Request): void {
    if (!this.csrf.isAnonymousFormTokenValid(req))
      throw new ForbiddenException('Missing or invalid CSRF token');
  }
}
