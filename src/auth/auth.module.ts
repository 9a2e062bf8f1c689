import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { ThrottlerModule } from '@nestjs/throttler';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '../config/app-config';
import { AuditModule } from '../audit/audit.module';
import { RolesGuard } from '../roles/roles.guard';
import { RolesModule } from '../roles/roles.module';
import { SessionsModule } from '../sessions/sessions.module';
import { UsersModule } from '../users/users.module';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { PasswordLogin } from './password-login.service';
import { Reauthentication } from './reauthentication.service';
import { AccountLockController } from './lockout/account-lock.controller';
import { AuthenticationGuard } from './guards/authentication.guard';
import { ACCESS_TOKEN_TYPE, JwtAuthGuard } from './guards/jwt-auth.guard';
import { RateLimitGuard } from './guards/rate-limit.guard';
import { LoginAttempts } from './lockout/login-attempts.entity';
import { LoginAttemptsRepository } from './lockout/login-attempts.repository';
import { LoginLockout } from './lockout/login-lockout.service';
import { CsrfService } from './session/csrf.service';
import { SessionLoginService } from './session/session-login.service';
import { LocalStrategy } from './strategies/local.strategy';
import { JwtStrategy } from './strategies/jwt.strategy';
import { jwtKey } from './tokens/jwt-key';
import { RefreshToken } from './tokens/refresh-token.entity';
import { RefreshTokensRepository } from './tokens/refresh-tokens.repository';
import { TokenService } from './tokens/token.service';

/** Sign-up, sign-in by cookie session or token, and the global guards (authentication, then roles). */
@Module({
  imports: [
    AuditModule,
    RolesModule,
    UsersModule,
    SessionsModule,
    TypeOrmModule.forFeature([RefreshToken, LoginAttempts]),
    ThrottlerModule.forRootAsync({
      inject: [AppConfig],
      useFactory: ({ abuse }: AppConfig) => ({
        throttlers: [{ name: 'default', limit: abuse.rateLimit, ttl: abuse.rateWindowMs }],
        errorMessage: 'Too many requests from this client; try again later',
      }),
    }),
    JwtModule.registerAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        secret: jwtKey(config),
        // RFC 9068: access tokens say what they are, so no other JWT can pass for one.
        signOptions: { algorithm: 'HS256', header: { alg: 'HS256', typ: ACCESS_TOKEN_TYPE } },
        verifyOptions: { algorithms: ['HS256'], issuer: config.jwt.issuer, audience: config.jwt.audience },
      }),
    }),
  ],
  controllers: [AuthController, AccountLockController],
  providers: [
    AuthService,
    LocalStrategy,
    JwtStrategy,
    JwtAuthGuard,
    CsrfService,
    SessionLoginService,
    TokenService,
    RefreshTokensRepository,
    LoginLockout,
    LoginAttemptsRepository,
    PasswordLogin,
    Reauthentication,
    // Registration order is execution order: how often, who the caller is, what they may do.
    { provide: APP_GUARD, useClass: RateLimitGuard },
    { provide: APP_GUARD, useClass: AuthenticationGuard },
    { provide: APP_GUARD, useExisting: RolesGuard },
  ],
  exports: [AuthService, TokenService, PasswordLogin, Reauthentication, SessionLoginService, CsrfService],
})
export class AuthModule {}
