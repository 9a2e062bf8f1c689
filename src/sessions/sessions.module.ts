import { type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CookieSession } from './cookie-session.entity';
import { PgSessionStore } from './pg-session.store';
import { SessionMiddleware } from './session.middleware';
import { TokenLogin } from './token-login.entity';

/** Sign-ins of both kinds: cookie sessions (and their store) and token logins. */
@Module({
  imports: [TypeOrmModule.forFeature([CookieSession, TokenLogin])],
  providers: [PgSessionStore, SessionMiddleware],
  exports: [PgSessionStore, TypeOrmModule],
})
export class SessionsModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(SessionMiddleware).forRoutes('*path');
  }
}
