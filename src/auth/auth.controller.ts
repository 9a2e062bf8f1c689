import { Body, Controller, Delete, Get, HttpCode, Post, Req, Res, UseGuards } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiTags,
  ApiExtraModels,
  ApiUnauthorizedResponse,
  getSchemaPath,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { UserResponse } from '../users/dto/user.response';
import type { User } from '../users/user.entity';
import type { AuthContext } from './auth-context';
import { AuthService } from './auth.service';
import { CaptchaProtected } from './captcha/captcha-protected.decorator';
import { AllowUnverified } from './decorators/allow-unverified.decorator';
import { Auth } from './decorators/auth.decorator';
import { CurrentAuth } from './decorators/current-auth.decorator';
import { Public } from './decorators/public.decorator';
import { RateLimited } from './decorators/rate-limited.decorator';
import { CsrfTokenResponse, MeResponse, SessionLoginResponse, TokenPairResponse } from './dto/auth.responses';
import { ChangePasswordDto, ReauthDto } from './dto/change-password.dto';
import { CredentialsDto } from './dto/credentials.dto';
import { RefreshTokenDto } from './dto/refresh-token.dto';
import { SignupDto } from './dto/signup.dto';
import { LocalAuthGuard } from './guards/local-auth.guard';
import { CsrfService } from './session/csrf.service';
import { SessionLoginService } from './session/session-login.service';
import { MfaChallengeResponse } from './mfa/dto/mfa.dto';
import { MfaLoginService } from './mfa/mfa-login.service';
import { Reauthentication } from './reauthentication.service';
import { TokenService } from './tokens/token.service';

@ApiTags('auth')
@ApiExtraModels(SessionLoginResponse, TokenPairResponse, MfaChallengeResponse)
@Controller('api/auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly sessions: SessionLoginService,
    private readonly tokens: TokenService,
    private readonly csrf: CsrfService,
    private readonly reauth: Reauthentication,
    private readonly mfa: MfaLoginService,
  ) {}

  @Public()
  @RateLimited('signup')
  @CaptchaProtected()
  @Post('signup')
  @ApiBody({ type: SignupDto })
  @ApiCreatedResponse({ type: UserResponse })
  @ApiBadRequestResponse({
    description: 'Invalid or unknown fields, or a password the rules refuse: every fault listed',
  })
  @ApiConflictResponse({ description: 'An account with this email already exists' })
  // `unknown`, not SignupDto: the global pipe would answer the form's faults before the
  // password rules could be checked, and the contract wants every failing field named.
  async signup(@Req() req: Request, @Body() body: unknown): Promise<UserResponse> {
    return UserResponse.from(await this.auth.signupFromBody(body, req));
  }

  @Public()
  @RateLimited('login')
  @UseGuards(LocalAuthGuard)
  @Post('session')
  @HttpCode(200)
  @ApiOkResponse({
    description:
      'Sets the session cookie (a fresh session id); for a user with a second factor, `{ mfaRequired, mfaToken, methods }` and no cookie: finish with POST /api/auth/mfa/verify',
    schema: {
      oneOf: [{ $ref: getSchemaPath(SessionLoginResponse) }, { $ref: getSchemaPath(MfaChallengeResponse) }],
    },
  })
  @ApiUnauthorizedResponse({ description: 'Invalid email or password' })
  async createSession(
    @Req() req: Request,
    @Body() _credentials: CredentialsDto,
  ): Promise<SessionLoginResponse | MfaChallengeResponse> {
    const user = req.user as User;
    if (this.mfa.isRequired(user)) return this.mfa.challenge(user, 'session');
    const csrfToken = await this.sessions.signIn(req, user);
    return { user: UserResponse.from(user), csrfToken };
  }

  @AllowUnverified()
  @Auth('session')
  @Delete('session')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Session destroyed server-side, cookie cleared' })
  async deleteSession(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<void> {
    await this.sessions.logOut(req, res);
  }

  @Public()
  @RateLimited('login')
  @UseGuards(LocalAuthGuard)
  @Post('token')
  @HttpCode(200)
  @ApiOkResponse({
    description:
      'A token pair; for a user with a second factor, `{ mfaRequired, mfaToken, methods }`: finish with POST /api/auth/mfa/verify',
    schema: {
      oneOf: [{ $ref: getSchemaPath(TokenPairResponse) }, { $ref: getSchemaPath(MfaChallengeResponse) }],
    },
  })
  @ApiUnauthorizedResponse({ description: 'Invalid email or password' })
  createToken(
    @Req() req: Request,
    @Body() _credentials: CredentialsDto,
  ): Promise<TokenPairResponse | MfaChallengeResponse> {
    const user = req.user as User;
    if (this.mfa.isRequired(user)) return this.mfa.challenge(user, 'jwt');
    return this.tokens.issue(user, req);
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

  // A person's act: an API key (which cannot be recent either) never changes the password.
  @Auth('session', 'jwt')
  @RateLimited('password')
  @Post('password')
  @HttpCode(204)
  @ApiNoContentResponse({
    description:
      'Every other sign-in of the user is revoked; a cookie session gets a new id (same CSRF token), a token login stays',
  })
  @ApiBadRequestResponse({ description: 'The new password breaks the password rules' })
  @ApiForbiddenResponse({ description: 'Current password is incorrect' })
  changePassword(@Req() req: Request, @Body() body: ChangePasswordDto): Promise<void> {
    return this.auth.changePassword(req, body.currentPassword, body.newPassword);
  }

  // Only a sign-in can become recent again: by API key this would answer 204 and change nothing.
  @Auth('session', 'jwt')
  @AllowUnverified()
  @RateLimited('password')
  @Post('reauth')
  @HttpCode(204)
  @ApiNoContentResponse({
    description:
      'One factor proved (the password, a TOTP code, a recovery code or a passkey): the sign-in counts as recent for REAUTH_MAX_AGE_SECONDS',
  })
  @ApiForbiddenResponse({ description: 'The password or code is incorrect' })
  reauthenticate(@Req() req: Request, @Body() body: ReauthDto): Promise<void> {
    return this.reauth.reauthenticate(req, body);
  }

  @AllowUnverified()
  @Post('logout-all')
  @HttpCode(204)
  @ApiNoContentResponse({ description: "Every sign-in of the caller is revoked, the caller's own included" })
  logoutAll(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<void> {
    return this.auth.logoutEverywhere(req, res);
  }

  @AllowUnverified()
  @Get('me')
  @ApiOkResponse({ type: MeResponse })
  me(@CurrentAuth() auth: AuthContext): MeResponse {
    return MeResponse.of(auth.user, auth.method);
  }

  @AllowUnverified()
  @Auth('session')
  @Get('csrf')
  @ApiOkResponse({ type: CsrfTokenResponse })
  csrfToken(@Req() req: Request): CsrfTokenResponse {
    return { csrfToken: this.csrf.token(req) };
  }
}
