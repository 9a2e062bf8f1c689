import { Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Req } from '@nestjs/common';
import { ApiNoContentResponse, ApiNotFoundResponse, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { BuiltInRole } from '../../roles/role-names';
import { Roles } from '../../roles/roles.decorator';
import { UsersService } from '../../users/users.service';
import { ApiKeysService } from './api-keys.service';
import { ApiKeyResponse } from './dto/api-key.dto';
import { ApiListResponse } from '../../common/api-list-response.decorator';
import { MAX_API_KEYS_PER_USER } from './api-key.entity';

/** An admin's view of a user's API keys: list and revoke, never the keys themselves. */
@ApiTags('users')
@Controller('api/users')
export class UserApiKeysController {
  constructor(
    private readonly keys: ApiKeysService,
    private readonly users: UsersService,
  ) {}

  @Roles(BuiltInRole.Admin)
  @Get(':id/keys')
  @ApiListResponse(ApiKeyResponse, MAX_API_KEYS_PER_USER)
  @ApiNotFoundResponse()
  async list(@Param('id', new ParseUUIDPipe()) id: string): Promise<ApiKeyResponse[]> {
    await this.users.findByIdOrFail(id);
    return (await this.keys.list(id)).map((key) => ApiKeyResponse.from(key));
  }

  @Roles(BuiltInRole.Admin)
  @Delete(':id/keys/:keyId')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Refused on its next use, on every instance' })
  @ApiNotFoundResponse()
  revoke(
    @Req() req: Request,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Param('keyId', new ParseUUIDPipe()) keyId: string,
  ): Promise<void> {
    return this.keys.revoke(req, id, keyId);
  }
}
