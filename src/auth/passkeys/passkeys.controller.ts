import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post, Req } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { Request } from 'express';
import { UserResponse } from '../../users/dto/user.response';
import { Public } from '../decorators/public.decorator';
import { RateLimited } from '../decorators/rate-limited.decorator';
import { RecentAuthentication } from '../../common/recent-authentication.decorator';
import { SessionLoginResponse, TokenPairResponse } from '../dto/auth.responses';
import { SessionLoginService } from '../session/session-login.service';
import { TokenService } from '../tokens/token.service';
import {
  PasskeyAssertionDto,
  PasskeyOptionsDto,
  PasskeyRegistrationDto,
  PasskeyResponse,
} from './dto/passkey.dto';
import { MAX_PASSKEYS_PER_USER } from './passkey.entity';
import { PASSKEY_REFUSED, PasskeysService } from './passkeys.service';
import { ApiListResponse } from '../../common/api-list-response.decorator';

const WEBAUTHN_OPTIONS = {
  schema: { type: 'object', additionalProperties: true },
  description:
    'WebAuthn options (JSON), for @simplewebauthn/browser; the challenge lasts 5 minutes, single use',
} as const;

/** Passkeys: registering and removing them, and signing in with one (no password, no second step). */
@ApiTags('auth')
@Controller('api/auth/passkeys')
export class PasskeysController {
  constructor(
    private readonly passkeys: PasskeysService,
    private readonly sessions: SessionLoginService,
    private readonly tokens: TokenService,
  ) {}

  @RecentAuthentication()
  @Post('registration/options')
  @HttpCode(200)
  @ApiOkResponse(WEBAUTHN_OPTIONS)
  @ApiConflictResponse({ description: `The caller has ${MAX_PASSKEYS_PER_USER} passkeys already` })
  registrationOptions(@Req() req: Request): Promise<object> {
    return this.passkeys.registrationOptions(req.auth!.user);
  }

  @RecentAuthentication()
  @Post('registration')
  @ApiCreatedResponse({ type: PasskeyResponse })
  @ApiBadRequestResponse({ description: PASSKEY_REFUSED })
  @ApiConflictResponse({
    description: `This passkey is registered already, or the caller has ${MAX_PASSKEYS_PER_USER} passkeys`,
  })
  async register(@Req() req: Request, @Body() body: PasskeyRegistrationDto): Promise<PasskeyResponse> {
    return PasskeyResponse.from(await this.passkeys.register(req, req.auth!.user, body.response, body.name));
  }

  @Get()
  @ApiListResponse(PasskeyResponse, MAX_PASSKEYS_PER_USER)
  async list(@Req() req: Request): Promise<PasskeyResponse[]> {
    return (await this.passkeys.list(req.auth!.user.id)).map((passkey) => PasskeyResponse.from(passkey));
  }

  @RecentAuthentication()
  @Delete(':id')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'The passkey no longer signs in' })
  @ApiNotFoundResponse()
  delete(@Req() req: Request, @Param('id', new ParseUUIDPipe()) id: string): Promise<void> {
    return this.passkeys.delete(req, req.auth!.user, id);
  }

  @Public()
  @RateLimited('login')
  @Post('authentication/options')
  @HttpCode(200)
  @ApiOkResponse(WEBAUTHN_OPTIONS)
  authenticationOptions(@Body() body: PasskeyOptionsDto): Promise<object> {
    return this.passkeys.authenticationOptions({ email: body.email });
  }

  @Public()
  @RateLimited('login')
  @Post('session')
  @HttpCode(200)
  @ApiOkResponse({ type: SessionLoginResponse, description: 'As POST /api/auth/session: the session cookie' })
  @ApiUnauthorizedResponse({ description: PASSKEY_REFUSED })
  async session(@Req() req: Request, @Body() body: PasskeyAssertionDto): Promise<SessionLoginResponse> {
    const user = await this.passkeys.authenticate(req, body.response);
    const csrfToken = await this.sessions.signIn(req, user);
    return { user: UserResponse.from(user), csrfToken };
  }

  @Public()
  @RateLimited('login')
  @Post('token')
  @HttpCode(200)
  @ApiOkResponse({ type: TokenPairResponse, description: 'As POST /api/auth/token' })
  @ApiUnauthorizedResponse({ description: PASSKEY_REFUSED })
  async token(@Req() req: Request, @Body() body: PasskeyAssertionDto): Promise<TokenPairResponse> {
    return this.tokens.issue(await this.passkeys.authenticate(req, body.response), req);
  }
}
