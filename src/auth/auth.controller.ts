import { Body, Controller, Delete, Get, HttpCode, Post, Req, Res, UseGuards } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { currentSignIn } from '../sessions/current-sign-in';
import { AuditService } from '../audit/audit.service';
import { SignInsService } from '../sessions/sign-ins.service';
import { UserResponse } from '../users/dto/user.response';
import type { User } from '../users/user.entity';
import type { AuthContext } from './auth-context';
import { AuthService } from './auth.service';
import { clientInfo } from './client-info';
import { Auth } from './decorators/auth.decorator';
import { CurrentAuth } from './decorators/current-auth.decorator';
import { Public } from './decorators/public.decorator';
import { RateLimited } from './decorators/rate-limited.decorator';
import { CsrfTokenResponse, MeResponse, SessionLoginResponse, TokenPairResponse } from './dto/auth.responses';
import { ChangePasswordDto } from './dto/change-password.dto';
import { CredentialsDto } from './dto/credentials.dto';
import { RefreshTokenDto } from './dto/refresh-token.dto';
import { SignupDto } from './dto/signup.dto';
import { LocalAuthGuard } from './guards/local-auth.guard';
import { CsrfService } from './session/csrf.service';
import { SessionLoginService } from './session/session-login.service';
import { TokenService } from './tokens/token.service';

@ApiTags('auth')
@Controller('api/auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly sessions: SessionLoginService,
    private readonly tokens: TokenService,
    private readonly csrf: CsrfService,
    private readonly signIns: SignInsService,
    private readonly audit: AuditService,
  ) {}

  @Public()
  @RateLimited('signup')
  @Post('signup')
  @ApiCreatedResponse({ type: UserResponse })
  @ApiBadRequestResponse({ description: 'Invalid or unknown fields' })
  @ApiConflictResponse({ description: 'An account with this email already exists' })
  async signup(@Req() req: Request, @Body() body: SignupDto): Promise<UserResponse> {
    const user = await this.auth.signup(body);
    await this.audit.record(req, { type: 'signup', userId: user.id });
    return UserResponse.from(user);
  }

  @Public()
  @RateLimited('login')
  @UseGuards(LocalAuthGuard)
  @Post('session')
  @HttpCode(200)
  @ApiOkResponse({ type: SessionLoginResponse, description: 'Sets the session cookie (a fresh session id)' })
  @ApiUnauthorizedResponse({ description: 'Invalid email or password' })
  async createSession(
    @Req() req: Request,
    @Body() _credentials: CredentialsDto,
  ): Promise<SessionLoginResponse> {
    const user = req.user as User;
    const csrfToken = await this.sessions.signIn(req, user);
    await this.audit.record(req, {
      type: 'login.succeeded',
      userId: user.id,
      details: { method: 'session' },
    });
    return { user: UserResponse.from(user), csrfToken };
  }

  @Auth('session')
  @Delete('session')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Session destroyed server-side, cookie cleared' })
  async deleteSession(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<void> {
    const userId = req.auth!.user.id;
    await this.sessions.signOut(req, res);
    await this.audit.record(req, { type: 'logout', userId, details: { method: 'session' } });
  }

  @Public()
  @RateLimited('login')
  @UseGuards(LocalAuthGuard)
  @Post('token')
  @HttpCode(200)
  @ApiOkResponse({ type: TokenPairResponse })
  @ApiUnauthorizedResponse({ description: 'Invalid email or password' })
  async createToken(@Req() req: Request, @Body() _credentials: CredentialsDto): Promise<TokenPairResponse> {
    const user = req.user as User;
    const pair = await this.tokens.issue(user, clientInfo(req));
    await this.audit.record(req, { type: 'login.succeeded', userId: user.id, details: { method: 'jwt' } });
    return pair;
  }

  @Public()
  @RateLimited('refresh')
  @Post('token/refresh')
  @HttpCode(200)
  @ApiOkResponse({ type: TokenPairResponse, description: 'The presented refresh token is spent' })
  @ApiUnauthorizedResponse({ description: 'Unknown, spent (the login is then revoked), revoked or expired' })
  refresh(@Req() req: Request, @Body() body: RefreshTokenDto): Promise<TokenPairResponse> {
    return this.tokens.rotate(body.refreshToken, req);
  }

  @Public()
  @RateLimited('refresh')
  @Post('token/revoke')
  @HttpCode(204)
  @ApiNoContentResponse({ description: "The login's refresh and access tokens stop working" })
  revoke(@Req() req: Request, @Body() body: RefreshTokenDto): Promise<void> {
    return this.tokens.revoke(body.refreshToken, req);
  }

  @RateLimited('password')
  @Post('password')
  @HttpCode(204)
  @ApiNoContentResponse({
    description:
      'Every other sign-in of the user is revoked; a cookie session gets a new id (same CSRF token), a token login stays',
  })
  @ApiBadRequestResponse({ description: 'The new password breaks the password rules' })
  @ApiForbiddenResponse({ description: 'Current password is incorrect' })
  async changePassword(@Req() req: Request, @Body() body: ChangePasswordDto): Promise<void> {
    const auth = req.auth!;
    await this.auth.changePassword(auth.user.id, body.currentPassword, body.newPassword);
    await this.signIns.revokeAll(auth.user.id, currentSignIn(req));
    if (auth.method === 'session') await this.sessions.renewId(req);
    await this.audit.record(req, { type: 'password.changed', userId: auth.user.id });
  }

  @Post('logout-all')
  @HttpCode(204)
  @ApiNoContentResponse({ description: "Every sign-in of the caller is revoked, the caller's own included" })
  async logoutAll(
    @CurrentAuth() auth: AuthContext,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<void> {
    await this.signIns.revokeAll(auth.user.id);
    if (auth.method === 'session') await this.sessions.signOut(req, res);
    await this.audit.record(req, { type: 'signins.revoked_all', userId: auth.user.id });
  }

  @Get('me')
  @ApiOkResponse({ type: MeResponse })
  me(@CurrentAuth() auth: AuthContext): MeResponse {
    return { ...UserResponse.from(auth.user), authMethod: auth.method };
  }

  @Auth('session')
  @Get('csrf')
  @ApiOkResponse({ type: CsrfTokenResponse })
  csrfToken(@Req() req: Request): CsrfTokenResponse {
    return { csrfToken: this.csrf.token(req) };
  }
}
