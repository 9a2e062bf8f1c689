import {
  BadRequestException,
  Body,
  ConflictException,
  Controller,
  ForbiddenException,
  Get,
  HttpException,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
  Req,
  Res,
  UseFilters,
} from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AuthService } from '../auth/auth.service';
import { Auth } from '../auth/decorators/auth.decorator';
import { RateLimited } from '../auth/decorators/rate-limited.decorator';
import { ChangePasswordDto } from '../auth/dto/change-password.dto';
import { ChangeEmailDto } from '../auth/recovery/dto/recovery.dto';
import { EmailVerificationService } from '../auth/recovery/email-verification.service';
import { effectiveRoles } from '../roles/role-names';
import { currentSignIn } from '../sessions/current-sign-in';
import { SignInsService } from '../sessions/sign-ins.service';
import { UpdateMeDto } from '../users/dto/user-requests';
import { normaliseEmail } from '../users/email';
import { UsersService } from '../users/users.service';
import { checkForm, messageOf } from './form-errors';
import { PageExceptionFilter } from './page-exception.filter';
import { PageRenderer } from './page-renderer';

/** The signed-in user's own account: name, password, email address and sign-ins. */
@ApiExcludeController()
@UseFilters(PageExceptionFilter)
@Controller()
export class AccountController {
  constructor(
    private readonly auth: AuthService,
    private readonly signIns: SignInsService,
    private readonly users: UsersService,
    private readonly verification: EmailVerificationService,
    private readonly pages: PageRenderer,
  ) {}

  @Auth('session')
  @Get('profile')
  profile(@Req() req: Request, @Res() res: Response, @Query('status') status?: string): void {
    const user = req.auth!.user;
    this.renderProfile(req, res, { values: { name: user.name ?? '' }, status: this.pages.notice(status) });
  }

  @Auth('session')
  @Post('profile')
  async rename(
    @Req() req: Request,
    @Res() res: Response,
    @Body() body: Record<string, unknown>,
  ): Promise<void> {
    const { value, errors } = await checkForm(UpdateMeDto, body);
    if (Object.keys(errors).length)
      return this.renderProfile(req, res, { values: { name: value.name }, errors }, 400);
    await this.users.rename(req.auth!.user.id, value.name);
    res.redirect(303, '/profile?status=name-saved');
  }

  @Auth('session')
  @RateLimited('password')
  @Post('profile/password')
  async changePassword(
    @Req() req: Request,
    @Res() res: Response,
    @Body() body: Record<string, unknown>,
  ): Promise<void> {
    const user = req.auth!.user;
    const { value, errors } = await checkForm(ChangePasswordDto, body);
    const retry = (status: number, fieldErrors: Record<string, string>) =>
      this.renderProfile(req, res, { values: { name: user.name ?? '' }, errors: fieldErrors }, status);
    if (Object.keys(errors).length) return retry(400, errors);
    try {
      await this.auth.changePassword(req, value.currentPassword, value.newPassword);
    } catch (error) {
      if (error instanceof ForbiddenException)
        return retry(403, { currentPassword: 'Current password is incorrect.' });
      if (error instanceof BadRequestException) return retry(400, { newPassword: messageOf(error) });
      if (error instanceof HttpException && error.getStatus() === 429) {
        this.pages.retryAfter(res, error);
        return retry(429, {
          currentPassword: 'Too many failed attempts for this account: try again later.',
        });
      }
      throw error;
    }
    res.redirect(303, '/profile?status=password-changed');
  }

  /**
   * Asks to move the account to a new address: a link goes there, and nothing changes
   * until it is followed (/confirm-email). The form carries the password, checked
   * once by the service under the account lock.
   */
  @Auth('session')
  @RateLimited('recovery')
  @Post('profile/email')
  async changeEmail(
    @Req() req: Request,
    @Res() res: Response,
    @Body() body: Record<string, unknown>,
  ): Promise<void> {
    const user = req.auth!.user;
    const { value, errors } = await checkForm(ChangeEmailDto, body);
    const render = (status: number, locals: Record<string, unknown>) =>
      this.renderProfile(
        req,
        res,
        { values: { name: user.name ?? '', newEmail: value.newEmail }, ...locals },
        status,
      );
    const retry = (status: number, emailErrors: Record<string, string>) => render(status, { emailErrors });
    if (Object.keys(errors).length) return retry(400, errors);
    try {
      // The password in this form is the fresh proof the API's recent-authentication check asks for.
      await this.verification.requestChange(req, value.newEmail, value.password);
    } catch (error) {
      if (error instanceof ForbiddenException) return retry(403, { password: 'Password is incorrect.' });
      if (error instanceof BadRequestException)
        return retry(400, { newEmail: 'This is your email address already.' });
      if (error instanceof ConflictException)
        return retry(409, { newEmail: 'An account with this email already exists.' });
      if (error instanceof HttpException && error.getStatus() === 429) {
        this.pages.retryAfter(res, error);
        return retry(429, { password: 'Too many failed attempts for this account: try again later.' });
      }
      throw error;
    }
    render(200, {
      values: { name: user.name ?? '' },
      emailStatus: `A link to confirm the change is on its way to ${normaliseEmail(value.newEmail)}. Your address changes when you follow it.`,
    });
  }

  @Auth('session')
  @Get('sessions')
  async signInsPage(@Req() req: Request, @Res() res: Response): Promise<void> {
    const list = await this.signIns.list(req.auth!.user.id, currentSignIn(req));
    const signIns = list.map((signIn) => ({
      ...signIn,
      kind: signIn.method === 'session' ? 'Browser session' : 'App (token)',
      createdAt: formatTime(signIn.createdAt),
      lastUsedAt: formatTime(signIn.lastUsedAt),
    }));
    this.pages.render(req, res, 'sessions', { title: 'Sign-ins', signIns });
  }

  @Auth('session')
  @Post('sessions/logout-all')
  async logoutEverywhere(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.auth.logoutEverywhere(req, res);
    res.redirect(303, '/login');
  }

  @Auth('session')
  @Post('sessions/:id/revoke')
  async revokeSignIn(
    @Req() req: Request,
    @Res() res: Response,
    @Param('id', ParseUUIDPipe) id: string,
  ): Promise<void> {
    await this.signIns.revoke(req, id);
    res.redirect(303, '/sessions');
  }

  private renderProfile(req: Request, res: Response, locals: Record<string, unknown>, status = 200): void {
    const user = req.auth!.user;
    const rolesText = [...effectiveRoles(user.roles.map((role) => role.name))].sort().join(', ');
    this.pages.render(
      req,
      res,
      'profile',
      {
        title: 'Profile',
        user: { email: user.email, emailVerified: user.emailVerified, rolesText },
        ...locals,
      },
      status,
    );
  }
}

function formatTime(iso: string): string {
  return iso.replace('T', ' ').slice(0, 16) + ' UTC';
}
