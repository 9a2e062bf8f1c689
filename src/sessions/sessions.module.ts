import { type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CookieSession } from './cookie-session.entity';
import { LoginRevocations } from './login-revocations';
import { PgSessionStore } from './pg-session.store';
import { SessionMiddleware } from './session.middleware';
import { SignInsService } from './sign-ins.service';
import { TokenLogin } from './token-login.entity';

/** Sign-ins of both kinds: cookie sessions (their store) and token logins (their revocation). */
@Module({
  imports: [TypeOrmModule.forFeature([CookieSession, TokenLogin])],
  providers: [PgSessionStore, SessionMiddleware, SignInsService, LoginRevocations],
  exports: [PgSessionStore, SignInsService, LoginRevocations, TypeOrmModule],
})
export class SessionsModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(SessionMiddleware).forRoutes('*path');
  }
}
