import { type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CookieSession } from './cookie-session.entity';
import { PgSessionStore } from './pg-session.store';
import { SessionMiddleware } from './session.middleware';
import { SessionsController } from './sessions.controller';
import { SignInCleanup } from './sign-in-cleanup';
import { SignInsService } from './sign-ins.service';
import { TokenLogin } from './token-login.entity';
import { TokenLoginCache } from './token-login-cache';
import { TokenLoginActivity } from './token-login-activity';

/** Sign-ins of both kinds: cookie sessions (their store) and token logins (their revocation). */
@Module({
  imports: [TypeOrmModule.forFeature([CookieSession, TokenLogin])],
  controllers: [SessionsController],
  providers: [
    PgSessionStore,
    SessionMiddleware,
    SignInsService,
    TokenLoginCache,
    TokenLoginActivity,
    SignInCleanup,
  ],
  exports: [
    PgSessionStore,
    SessionMiddleware,
    SignInsService,
    TokenLoginCache,
    TokenLoginActivity,
    TypeOrmModule,
  ],
})
export class SessionsModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(SessionMiddleware).forRoutes('*path');
  }
}
