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
  UnauthorizedException,
  UseFilters,
} from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AuthService } from '../auth/auth.service';
import { Auth } from '../auth/decorators/auth.decorator';
import { Public } from '../auth/decorators/public.decorator';
import { RateLimited } from '../auth/decorators/rate-limited.decorator';
import { CredentialsDto } from '../auth/dto/credentials.dto';
import { ChangePasswordDto } from '../auth/dto/change-password.dto';
import { SignupDto } from '../auth/dto/signup.dto';
import { AccountLockedException } from '../auth/lockout/login-lockout.service';
import { PasswordLogin } from '../auth/password-login.service';
import { CsrfService } from '../auth/session/csrf.service';
import { SessionLoginService } from '../auth/session/session-login.service';
import { AppConfig } from '../config/app-config';
import { BuiltInRole, effectiveRoles } from '../roles/role-names';
import { Roles } from '../roles/roles.decorator';
import { RolesService } from '../roles/roles.service';
import { currentSignIn } from '../sessions/current-sign-in';
import { SignInsService } from '../sessions/sign-ins.service';
import { UpdateMeDto } from '../users/dto/user-requests';
import type { User } from '../users/user.entity';
import { PasswordPolicy } from '../users/password-policy';
import { UsersService } from '../users/users.service';
import { checkForm } from './form-errors';
import { PageExceptionFilter } from './page-exception.filter';
import { pageChrome } from './page-chrome';
import { safeNext } from './safe-next';

const PAGE_SIZE = 25;
const STATUS: Record<string, string> = {
  'name-saved': 'Name saved.',
  'password-changed': 'Password changed. Your other sign-ins were ended.',
  'user-updated': 'User updated.',
};

/**
 * The server-rendered pages (cookie session only). Every form posts its CSRF
 * token: the sign-in and sign-up forms an anonymous one (a cookie, so that a
 * visitor writes nothing until signed in), the others the session's. Signed-in
 * pages go through the global guard like the API (which checks the session, the
 * user and the token), and PageExceptionFilter turns its 401 into a trip to the
 * sign-in form and back.
 */
@ApiExcludeController()
@UseFilters(PageExceptionFilter)
@Controller()
export class PagesController {
  constructor(
    private readonly auth: AuthService,
    private readonly login: PasswordLogin,
    private readonly sessions: SessionLoginService,
    private readonly csrf: CsrfService,
    private readonly signIns: SignInsService,
    private readonly users: UsersService,
    private readonly roles: RolesService,
    private readonly config: AppConfig,
    private readonly policy: PasswordPolicy,
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
    this.renderAnonymous(req, res, 'login', { title: 'Sign in', next: safeNext(next), values: {} });
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
      this.renderAnonymous(
        req,
        res,
        'login',
        { title: 'Sign in', next, error, values: { email: value.email } },
        status,
      );
    if (Object.keys(errors).length) return retry(400, 'Enter your email and password.');
    let user: User;
    try {
      user = await this.login.authenticate(req, res, value);
    } catch (error) {
      if (error instanceof UnauthorizedException) return retry(401, 'Invalid email or password.');
      if (error instanceof HttpException && error.getStatus() === 429)
        return retry(429, 'Too many failed attempts for this account: try again later.');
      throw error;
    }
    await this.sessions.signIn(req, user);
    res.redirect(303, next);
  }

  @Public()
  @Get('signup')
  signupPage(@Req() req: Request, @Res() res: Response): void {
    this.renderAnonymous(req, res, 'signup', {
      title: 'Create account',
      values: {},
      minLength: this.config.passwordMinLength,
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
    const retry = (status: number, fieldErrors: Record<string, string>) =>
      this.renderAnonymous(
        req,
        res,
        'signup',
        {
          title: 'Create account',
          values: { email: value.email, name: value.name },
          errors: fieldErrors,
          minLength: this.config.passwordMinLength,
        },
        status,
      );
    // List every fault at once: the password rules too, not only the form's shape.
    if (typeof value.password === 'string' && !errors.password) {
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
  @Post('logout')
  async logout(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.sessions.logOut(req, res);
    res.redirect(303, '/login');
  }

  @Auth('session')
  @Get('profile')
  profile(@Req() req: Request, @Res() res: Response, @Query('status') status?: string): void {
    const user = req.auth!.user;
    this.renderProfile(req, res, { values: { name: user.name ?? '' }, status: STATUS[status ?? ''] });
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
        if (error instanceof AccountLockedException && !res.hasHeader('Retry-After'))
          res.setHeader('Retry-After', String(error.retryAfterSeconds));
        return retry(429, {
          currentPassword: 'Too many failed attempts for this account: try again later.',
        });
      }
      throw error;
    }
    res.redirect(303, '/profile?status=password-changed');
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
    this.render(req, res, 'sessions', { title: 'Sign-ins', signIns });
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
    this.render(req, res, 'admin-users', {
      title: 'Users',
      q: query,
      total,
      status: STATUS[status ?? ''],
      error:
        error === 'last-admin' ? 'That would leave no enabled admin: make another admin first.' : undefined,
      users: items.map((user) => ({
        id: user.id,
        email: user.email,
        name: user.name ?? '',
        disabled: user.disabled,
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

  private setDisabled(req: Request, res: Response, id: string, disabled: boolean): Promise<void> {
    return this.adminChange(req, res, () => this.users.setDisabled(id, disabled, req));
  }

  /** Runs an admin change and returns to the list, keeping the search the admin was on. */
  private async adminChange(req: Request, res: Response, change: () => Promise<unknown>): Promise<void> {
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
      if (error instanceof ConflictException) return back({ error: 'last-admin' });
      throw error;
    }
    back({ status: 'user-updated' });
  }

  /** Signed-in forms pass the session's CSRF check in the global guard; these come before a sign-in. */
  private requireAnonymousFormToken(req: Request): void {
    if (!this.csrf.isAnonymousFormTokenValid(req))
      throw new ForbiddenException('Missing or invalid CSRF token');
  }

  private renderProfile(req: Request, res: Response, locals: Record<string, unknown>, status = 200): void {
    const user = req.auth!.user;
    const rolesText = [...effectiveRoles(user.roles.map((role) => role.name))].sort().join(', ');
    this.render(
      req,
      res,
      'profile',
      { title: 'Profile', user: { email: user.email, rolesText }, ...locals },
      status,
    );
  }

  private render(
    req: Request,
    res: Response,
    view: string,
    locals: Record<string, unknown>,
    status = 200,
  ): void {
    res.status(status).render(view, { ...locals, ...pageChrome(req, this.csrf) });
  }

  /** A page whose form is posted before a sign-in: its token lives in a cookie, not a session. */
  private renderAnonymous(
    req: Request,
    res: Response,
    view: string,
    locals: Record<string, unknown>,
    status = 200,
  ): void {
    const anonymousCsrfToken = this.csrf.anonymousFormToken(req, res);
    this.render(req, res, view, { ...locals, anonymousCsrfToken }, status);
  }
}

function messageOf(error: HttpException): string {
  const payload = error.getResponse() as { message?: string | string[] };
  const message = Array.isArray(payload.message) ? payload.message[0] : payload.message;
  return message ?? error.message;
}

function formatTime(iso: string): string {
  return iso.replace('T', ' ').slice(0, 16) + ' UTC';
}
