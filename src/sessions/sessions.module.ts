import { type DynamicModule, Inject, type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module';
import { registerOnce } from '../common/register-once';
import { InvalidationModule } from '../database/invalidation.module';
import { CookieSession } from './cookie-session.entity';
import { CookieSessionsRepository } from './cookie-sessions.repository';
import { RedisModule } from '../redis/redis.module';
import { RedisSessionsRepository } from './redis-sessions.repository';
import { SessionRepository } from './session-repository';
import { SessionStore } from './session.store';
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
 * Sign-ins of both kinds: cookie sessions (their store, in PostgreSQL or Redis, and
 * express-session on the routes the options name) and token logins (their revocation). `register(options)` takes a
 * module that provides SESSIONS_OPTIONS, INVALIDATION_OPTIONS and REDIS_OPTIONS (AuthModule's).
 */
@Module({
  controllers: [SessionsController, UserSignInsController],
  providers: [
    CookieSessionsRepository,
    RedisSessionsRepository,
    {
      provide: SessionRepository,
      inject: [SESSIONS_OPTIONS, CookieSessionsRepository, RedisSessionsRepository],
      useFactory: (options: SessionsOptions, postgres: SessionRepository, redis: SessionRepository) =>
        options.session.store === 'redis' ? redis : postgres,
    },
    TokenLoginsRepository,
    SessionStore,
    SessionMiddleware,
    SignInsService,
    TokenLoginCache,
    TokenLoginActivity,
    SignInCleanup,
  ],
  exports: [
    TokenLoginsRepository,
    SignInCleanup,
    SessionStore,
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
        RedisModule.register(options),
        UsersModule.register(options),
      ],
    }));
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(SessionMiddleware).forRoutes(...this.options.session.routes);
  }
}
