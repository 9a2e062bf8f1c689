import { Controller, Get } from '@nestjs/common';
import { Auth, type AuthContext, CurrentAuth, CurrentUser, Public, Roles, type User } from '../../../src';

/** Anyone may call it. */
@Controller('hello')
export class HelloController {
  @Public()
  @Get()
  hello(): { hello: string } {
    return { hello: 'world' };
  }
}

/** Admins only, by either method. */
@Controller('reports')
export class ReportsController {
  @Roles('admin')
  @Get()
  report(@CurrentUser() user: User): { for: string } {
    return { for: user.email };
  }
}

/** A cookie session only (a page-like route of the host's). */
@Controller('account')
export class AccountController {
  @Auth('session')
  @Get()
  account(@CurrentAuth() auth: AuthContext): { email: string; method: string } {
    return { email: auth.user.email, method: auth.method };
  }
}
