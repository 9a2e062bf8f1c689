import {
  Body,
  ConflictException,
  Controller,
  Get,
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
import { Auth } from '../auth/decorators/auth.decorator';
import { SecondFactorsService } from '../auth/mfa/second-factors.service';
import { EmailVerificationService } from '../auth/recovery/email-verification.service';
import { RecentAuthentication } from '../common/recent-authentication.decorator';
import { TooManyMailsException } from '../auth/recovery/too-many-mails.exception';
import { BuiltInRole } from '../roles/role-names';
import { Roles } from '../roles/roles.decorator';
import { RolesService } from '../roles/roles.service';
import { UsersService } from '../users/users.service';
import { PageExceptionFilter } from './page-exception.filter';
import { PageRenderer } from './page-renderer';

const PAGE_SIZE = 25;

const ADMIN_ERRORS = new Map([
  ['last-admin', 'That would leave no enabled admin: make another admin first.'],
  ['mail-recent', 'A verification link was mailed to this user moments ago: wait a minute.'],
]);

/** The admin's list of users: search, disable and enable, roles, resend a verification link, reset second factors. */
@ApiExcludeController()
@UseFilters(PageExceptionFilter)
@Controller()
export class AdminUsersController {
  constructor(
    private readonly users: UsersService,
    private readonly roles: RolesService,
    private readonly pages: PageRenderer,
    private readonly verification: EmailVerificationService,
    private readonly factors: SecondFactorsService,
  ) {}

  @Auth('session')
  @Roles(BuiltInRole.Admin)
  @Get('admin/users')
  async usersPage(
    @Req() req: Request,
    @Res() res: Response,
    @Query('q') q?: string,
    @Query('page') pageParam?: string,
    @Query('status') status?: string,
    @Query('error') error?: string,
  ): Promise<void> {
    const query = typeof q === 'string' ? q.slice(0, 254).replaceAll('\u0000', '') : '';
    const page = Math.max(1, Math.min(1_000_000, Number.parseInt(String(pageParam ?? '1'), 10) || 1));
    const [{ items, total }, allRoles] = await Promise.all([
      this.users.search({ page, limit: PAGE_SIZE, q: query || undefined }),
      this.roles.findAll(),
    ]);
    const link = (target: number) =>
      `/admin/users?${new URLSearchParams({ q: query, page: String(target) }).toString()}`;
    this.pages.render(req, res, 'admin-users', {
      title: 'Users',
      q: query,
      total,
      status: this.pages.notice(status),
      error: ADMIN_ERRORS.get(error ?? ''),
      users: items.map((user) => ({
        id: user.id,
        email: user.email,
        name: user.name ?? '',
        disabled: user.disabled,
        emailVerified: user.emailVerified,
        totp: user.totpEnabled,
        passkeys: user.passkeyCount,
        hasSecondFactor: user.totpEnabled || user.passkeyCount > 0,
        roles: allRoles.map((role) => ({
          name: role.name,
          checked: user.roles.some((held) => held.name === role.name),
          fixed: role.name === BuiltInRole.User,
        })),
      })),
      prev: page > 1 ? link(page - 1) : undefined,
      next: page * PAGE_SIZE < total ? link(page + 1) : undefined,
    });
  }

  @Auth('session')
  @Roles(BuiltInRole.Admin)
  @Post('admin/users/:id/disable')
  disable(@Req() req: Request, @Res() res: Response, @Param('id', ParseUUIDPipe) id: string): Promise<void> {
    return this.setDisabled(req, res, id, true);
  }

  @Auth('session')
  @Roles(BuiltInRole.Admin)
  @Post('admin/users/:id/enable')
  enable(@Req() req: Request, @Res() res: Response, @Param('id', ParseUUIDPipe) id: string): Promise<void> {
    return this.setDisabled(req, res, id, false);
  }

  @Auth('session')
  @Roles(BuiltInRole.Admin)
  @RecentAuthentication()
  @Post('admin/users/:id/roles')
  async setRoles(
    @Req() req: Request,
    @Res() res: Response,
    @Param('id', ParseUUIDPipe) id: string,
    @Body('roles') roles: unknown,
  ): Promise<void> {
    const names = (Array.isArray(roles) ? roles : roles === undefined ? [] : [roles]).filter(
      (role): role is string => typeof role === 'string',
    );
    await this.adminChange(req, res, () => this.users.setRoles(id, names, req));
  }

  @Auth('session')
  @Roles(BuiltInRole.Admin)
  @Post('admin/users/:id/verification')
  resendVerification(
    @Req() req: Request,
    @Res() res: Response,
    @Param('id', ParseUUIDPipe) id: string,
  ): Promise<void> {
    return this.adminChange(req, res, () => this.verification.resend(id, req), 'verification-sent');
  }

  /** A user lost their phone: every second factor goes (the service mails them). Needs recent authentication. */
  @Auth('session')
  @Roles(BuiltInRole.Admin)
  @RecentAuthentication()
  @Post('admin/users/:id/mfa/reset')
  resetSecondFactors(
    @Req() req: Request,
    @Res() res: Response,
    @Param('id', ParseUUIDPipe) id: string,
  ): Promise<void> {
    return this.adminChange(req, res, () => this.factors.reset(req, id), 'second-factors-reset');
  }

  private setDisabled(req: Request, res: Response, id: string, disabled: boolean): Promise<void> {
    return this.adminChange(req, res, () => this.users.setDisabled(id, disabled, req));
  }

  /** Runs an admin change and returns to the list, keeping the search the admin was on. */
  private async adminChange(
    req: Request,
    res: Response,
    change: () => Promise<unknown>,
    done = 'user-updated',
  ): Promise<void> {
    const q =
      typeof (req.body as { q?: unknown }).q === 'string' ? (req.body as { q: string }).q.slice(0, 254) : '';
    const back = (outcome: Record<string, string>) =>
      res.redirect(
        303,
        `/admin/users?${new URLSearchParams({ ...(q ? { q } : {}), ...outcome }).toString()}`,
      );
    try {
      await change();
    } catch (error) {
      // A resend to an address verified meanwhile has nothing left to do: the list shows it verified.
      if (error instanceof ConflictException && done === 'verification-sent') return back({});
      if (error instanceof ConflictException) return back({ error: 'last-admin' });
      if (error instanceof TooManyMailsException) return back({ error: 'mail-recent' });
      throw error;
    }
    back({ status: done });
  }
}
