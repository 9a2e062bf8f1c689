import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post, Req } from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Request } from 'express';
import { RecentAuthentication } from '../../common/recent-authentication.decorator';
import { Auth } from '../decorators/auth.decorator';
import { RateLimited } from '../decorators/rate-limited.decorator';
import { MAX_API_KEYS_PER_USER } from './api-key.entity';
import { ApiKeysService } from './api-keys.service';
import { ApiKeyResponse, CreatedApiKeyResponse, CreateApiKeyDto } from './dto/api-key.dto';
import { ApiListResponse } from '../../common/api-list-response.decorator';

/** The caller's API keys. Managed by a signed-in user (a key cannot make or list keys). */
@ApiTags('keys')
@Auth('session', 'jwt')
@Controller('api/keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @RecentAuthentication()
  @RateLimited('password')
  @Post()
  @ApiCreatedResponse({
    type: CreatedApiKeyResponse,
    description: '`key` appears only here; only its hash is stored',
  })
  @ApiConflictResponse({
    description: `The caller has ${MAX_API_KEYS_PER_USER} keys listed (expired ones count until revoked)`,
  })
  async create(@Req() req: Request, @Body() body: CreateApiKeyDto): Promise<CreatedApiKeyResponse> {
    const created = await this.keys.create(req, req.auth!.user, {
      name: body.name,
      roles: body.roles,
      expiresAt: body.expiresAt === undefined ? undefined : new Date(body.expiresAt),
    });
    return Object.assign(ApiKeyResponse.from(created), { key: created.key });
  }

  @Get()
  @ApiListResponse(ApiKeyResponse, MAX_API_KEYS_PER_USER, 'Never the keys themselves')
  async list(@Req() req: Request): Promise<ApiKeyResponse[]> {
    return (await this.keys.list(req.auth!.user.id)).map((key) => ApiKeyResponse.from(key));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Refused on its next use, on every instance' })
  @ApiNotFoundResponse()
  revoke(@Req() req: Request, @Param('id', new ParseUUIDPipe()) id: string): Promise<void> {
    return this.keys.revoke(req, req.auth!.user.id, id);
  }
}
