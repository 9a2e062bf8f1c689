import { type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module';
import { InvalidationModule } from '../database/invalidation.module';
import { CookieSession } from './cookie-session.entity';
import { CookieSessionsRepository } from './cookie-sessions.repository';
import { PgSessionStore } from './pg-session.store';
import { SessionMiddleware } from './session.middleware';
import { SessionsController } from './sessions.controller';
import { SignInCleanup } from './sign-in-cleanup';
import { SignInsService } from './sign-ins.service';
import { TokenLogin } from './token-login.entity';
import { TokenLoginCache } from './token-login-cache';
import { TokenLoginActivity } from './token-login-activity';
import { TokenLoginsRepository } from './token-logins.repository';

/** Sign-ins of both kinds: cookie sessions (their store) and token logins (their revocation). */
@Module({
  imports: [TypeOrmModule.forFeature([CookieSession, TokenLogin]), AuditModule, InvalidationModule],
  controllers: [SessionsController],
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
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(SessionMiddleware).forRoutes('*path');
  }
}
