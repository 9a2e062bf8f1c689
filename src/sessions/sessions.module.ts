import { type DynamicModule, Inject, type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module';
import { registerOnce } from '../common/register-once';
import { InvalidationModule } from '../database/invalidation.module';
import { CookieSession } from './cookie-session.entity';
import { CookieSessionsRepository } from './cookie-sessions.repository';
import { PgSessionStore } from './pg-session.store';
import { SessionMiddleware } from './session.middleware';
import { SessionsController } from './sessions.controller';
import { UserSignInsController } from './user-sign-ins.controller';
import { UsersModule } from '../users/users.module';
import { SignInCleanup } from './sign-in-cleanup';
import { SignInsService } from './sign-ins.service';
import { TokenLogin } from './token-login.entity';
import { TokenLoginCache } from './token-login-cache';
import { TokenLoginActivity } from './token-login-activity';
import { TokenLoginsRepository } from './token-logins.repository';
import { SESSIONS_OPTIONS, type SessionsOptions } from './sessions.options';

const registered = new WeakMap<DynamicModule, DynamicModule>();

/**
 * Sign-ins of both kinds: cookie sessions (their store, express-session on the routes
 * the options name) and token logins (their revocation). `register(options)` takes a
 * module that provides SESSIONS_OPTIONS and INVALIDATION_OPTIONS (AuthModule's).
 */
@Module({
  controllers: [SessionsController, UserSignInsController],
  providers: [
    CookieSessionsRepository,
    TokenLoginsRepository,
    PgSessionStore,
    SessionMiddleware,
    SignInsService,
    TokenLoginCache,
    TokenLoginActivity,
    SignInCleanup,
  ],
  exports: [
    TokenLoginsRepository,
    SignInCleanup,
    PgSessionStore,
    SessionMiddleware,
    SignInsService,
    TokenLoginCache,
    TokenLoginActivity,
  ],
})
export class SessionsModule implements NestModule {
  constructor(@Inject(SESSIONS_OPTIONS) private readonly options: SessionsOptions) {}

  static register(options: DynamicModule): DynamicModule {
    return registerOnce(registered, options, () => ({
      module: SessionsModule,
      imports: [
        TypeOrmModule.forFeature([CookieSession, TokenLogin]),
        options,
        AuditModule,
        InvalidationModule.register(options),
        UsersModule.register(options),
      ],
    }));
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(SessionMiddleware).forRoutes(...this.options.session.routes);
  }
}
