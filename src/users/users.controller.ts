import {
  Body,
  Controller,
  Delete,
  ForbiddenException,
  Get,
  HttpCode,
  Param,
  ParseUUIDPipe,
  Patch,
  Put,
  Query,
  Req,
} from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Request } from 'express';
import { BuiltInRole, effectiveRoles } from '../roles/role-names';
import { RecentAuthentication } from '../common/recent-authentication.decorator';
import { Roles } from '../roles/roles.decorator';
import { UserPageResponse } from './dto/user-page.response';
import { ListUsersQuery, SetRolesDto, UpdateMeDto, UpdateUserDto } from './dto/user-requests';
import { UserResponse } from './dto/user.response';
import type { User } from './user.entity';
import { UsersService } from './users.service';

const UserId = () => Param('id', new ParseUUIDPipe());
const LAST_ADMIN = 'Would leave no enabled admin';

@ApiTags('users')
@Controller('api/users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Roles(BuiltInRole.Admin)
  @Get()
  @ApiOkResponse({ type: UserPageResponse })
  async list(@Query() query: ListUsersQuery): Promise<UserPageResponse> {
    const { items, total } = await this.users.search(query);
    return {
      items: items.map((user) => UserResponse.from(user)),
      total,
      page: query.page,
      limit: query.limit,
    };
  }

  @Patch('me')
  @ApiOkResponse({ type: UserResponse })
  async updateMe(@Req() req: Request, @Body() body: UpdateMeDto): Promise<UserResponse> {
    return UserResponse.from(await this.users.rename(callerOf(req).id, body.name));
  }

  /** Admins may read anyone; everyone else only themself. */
  @Get(':id')
  @ApiOkResponse({ type: UserResponse })
  @ApiNotFoundResponse()
  async get(@Req() req: Request, @UserId() id: string): Promise<UserResponse> {
    const me = callerOf(req);
    if (id !== me.id && !effectiveRoles(me.roles.map((role) => role.name)).has(BuiltInRole.Admin))
      throw new ForbiddenException('Only admins can read other users');
    return UserResponse.from(await this.users.findByIdOrFail(id));
  }

  @Roles(BuiltInRole.Admin)
  @Patch(':id')
  @ApiOkResponse({ type: UserResponse })
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: LAST_ADMIN })
  async update(
    @Req() req: Request,
    @UserId() id: string,
    @Body() body: UpdateUserDto,
  ): Promise<UserResponse> {
    await this.users.findByIdOrFail(id);
    if (body.disabled !== undefined) await this.users.setDisabled(id, body.disabled, req);
    if (body.name !== undefined) await this.users.rename(id, body.name);
    return UserResponse.from(await this.users.findByIdOrFail(id));
  }

  @Roles(BuiltInRole.Admin)
  @Delete(':id')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'The account and all its sign-ins are gone' })
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: LAST_ADMIN })
  async delete(@Req() req: Request, @UserId() id: string): Promise<void> {
    await this.users.delete(id, req);
  }

  @Roles(BuiltInRole.Admin)
  @RecentAuthentication()
  @Put(':id/roles')
  @ApiOkResponse({
    type: UserResponse,
    description: 'Applies to existing sessions and tokens on their next request',
  })
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: LAST_ADMIN })
  async setRoles(
    @Req() req: Request,
    @UserId() id: string,
    @Body() body: SetRolesDto,
  ): Promise<UserResponse> {
    return UserResponse.from(await this.users.setRoles(id, body.roles, req));
  }
}

/**
 * The calling user, as the global guard left it on the request (read directly: the auth
 * module's decorators are above this module, which it depends on).
 */
function callerOf(req: Request): User {
  return req.auth!.user;
}
