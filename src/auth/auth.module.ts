import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { ThrottlerModule } from '@nestjs/throttler';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module';
import { placeTablesInSchema } from '../database/auth-schema';
import { InvalidationModule } from '../database/invalidation.module';
import { INVALIDATION_OPTIONS } from '../database/invalidation.options';
import { MAIL_OPTIONS } from '../mail/mail.options';
import { MailModule } from '../mail/mail.module';
import { RedisConnection } from '../redis/redis-connection';
import { RedisModule } from '../redis/redis.module';
import { RedisThrottlerStorage } from '../redis/redis-throttler.storage';
import { REDIS_OPTIONS } from '../redis/redis.options';
import { RolesGuard } from '../roles/roles.guard';
import { RolesModule } from '../roles/roles.module';
import { SESSIONS_OPTIONS } from '../sessions/sessions.options';
import { SessionsModule } from '../sessions/sessions.module';
import { USERS_OPTIONS } from '../users/users.options';
import { UsersModule } from '../users/users.module';
import { ApiKeyCache } from './api-keys/api-key-cache';
import { ApiKey } from './api-keys/api-key.entity';
import { ApiKeysController } from './api-keys/api-keys.controller';
import { ApiKeysRepository } from './api-keys/api-keys.repository';
import { ApiKeysService } from './api-keys/api-keys.service';
import { UserApiKeysController } from './api-keys/user-api-keys.controller';
import { AuthController } from './auth.controller';
import { authEntities } from './auth.entities';
import {
  AUTH_ASYNC_OPTIONS_TYPE,
  AUTH_MODULE_OPTIONS,
  AUTH_OPTIONS_TYPE,
  ConfigurableAuthModule,
} from './auth.module-definition';
import { AUTH_OPTIONS, type AuthModuleOptions, type AuthOptions, resolveAuthOptions } from './auth.options';
import { AuthService } from './auth.service';
import { CaptchaGuard } from './captcha/captcha.guard';
import { CaptchaService } from './captcha/captcha.service';
import { MfaController } from './mfa/mfa.controller';
import { MfaLogin } from './mfa/mfa-login.entity';
import { MfaLoginService } from './mfa/mfa-login.service';
import { MfaLoginsRepository } from './mfa/mfa-logins.repository';
import { RecoveryCode } from './mfa/recovery-code.entity';
import { RecoveryCodesRepository } from './mfa/recovery-codes.repository';
import { RecoveryCodesService } from './mfa/recovery-codes.service';
import { SecondFactorsService } from './mfa/second-factors.service';
import { TotpFactor } from './mfa/totp-factor.entity';
import { TotpFactorsRepository } from './mfa/totp-factors.repository';
import { TotpService } from './mfa/totp.service';
import { UserSecondFactorsController } from './mfa/user-second-factors.controller';
import { Passkey } from './passkeys/passkey.entity';
import { PasskeysController } from './passkeys/passkeys.controller';
import { PasskeysRepository } from './passkeys/passkeys.repository';
import { PasskeysService } from './passkeys/passkeys.service';
import { WebAuthnChallenge } from './passkeys/webauthn-challenge.entity';
import { WebAuthnChallengesRepository } from './passkeys/webauthn-challenges.repository';
import { AccountToken } from './recovery/account-token.entity';
import { AccountTokensRepository } from './recovery/account-tokens.repository';
import { EmailVerificationService } from './recovery/email-verification.service';
import { PasswordResetService } from './recovery/password-reset.service';
import { RecoveryController } from './recovery/recovery.controller';
import { UserEmailVerificationController } from './recovery/user-email-verification.controller';
import { AuthenticationGuard } from './guards/authentication.guard';
import { JwtAuthGuard } from './guards/jwt-auth.guard';
import { ACCESS_TOKEN_TYPE } from './tokens/access-token-type';
import { RateLimitGuard, TOO_MANY_REQUESTS } from './guards/rate-limit.guard';
import { AccountLockController } from './lockout/account-lock.controller';
import { LoginAttempts } from './lockout/login-attempts.entity';
import { LoginAttemptsRepository } from './lockout/login-attempts.repository';
import { LoginLockout } from './lockout/login-lockout.service';
import { PasswordLogin } from './password-login.service';
import { Reauthentication } from './reauthentication.service';
import { CsrfService } from './session/csrf.service';
import { SessionLoginService } from './session/session-login.service';
import { JwtStrategy } from './strategies/jwt.strategy';
import { LocalStrategy } from './strategies/local.strategy';
import { jwtKey } from './tokens/jwt-key';
import { RefreshToken } from './tokens/refresh-token.entity';
import { RefreshTokensRepository } from './tokens/refresh-tokens.repository';
import { JwksController } from './tokens/jwks.controller';
import { SigningKey } from './tokens/signing-key.entity';
import { SigningKeysController } from './tokens/signing-keys.controller';
import { SigningKeysRepository } from './tokens/signing-keys.repository';
import { SigningKeysService } from './tokens/signing-keys.service';
import { TokenService } from './tokens/token.service';

/** Holds the validated options and hands each module its own view of them. */
@Module({})
class AuthOptionsModule {}

/** What a host's `@UseGuards(...)` needs, when the guards are not global. */
const GUARDS = [RateLimitGuard, AuthenticationGuard, RolesGuard];

/**
 * The whole authentication service as one module for any Nest app: users, roles,
 * sessions, audit, both strategies, the guards and the session middleware.
 *
 * `AuthModule.forRoot(options)` / `forRootAsync({ imports, inject, useFactory })`.
 * The options are validated when the module starts (a bad one stops the start with
 * one line naming it) and each feature module reads its own part of them
 * (USERS_OPTIONS, SESSIONS_OPTIONS, INVALIDATION_OPTIONS): they never see the
 * host's environment. With `globalGuards: false` nothing is installed on the host's
 * routes: it applies `@UseGuards(RateLimitGuard, AuthenticationGuard, RolesGuard)` itself.
 * The host provides the TypeORM connection (TypeOrmModule.forRoot, with the
 * module's entities and migrations); `schema` keeps the module's tables in a
 * PostgreSQL schema of their own.
 */
@Module({
  controllers: [
    AuthController,
    AccountLockController,
    RecoveryController,
    UserEmailVerificationController,
    MfaController,
    UserSecondFactorsController,
    PasskeysController,
    JwksController,
    SigningKeysController,
    ApiKeysController,
    UserApiKeysController,
  ],
  providers: [
    PasswordResetService,
    EmailVerificationService,
    AccountTokensRepository,
    CaptchaService,
    CaptchaGuard,
    TotpFactorsRepository,
    RecoveryCodesRepository,
    MfaLoginsRepository,
    TotpService,
    RecoveryCodesService,
    MfaLoginService,
    SecondFactorsService,
    PasskeysRepository,
    WebAuthnChallengesRepository,
    PasskeysService,
    SigningKeysRepository,
    SigningKeysService,
    ApiKeysRepository,
    ApiKeyCache,
    ApiKeysService,
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
    RateLimitGuard,
    AuthenticationGuard,
  ],
  exports: [
    AuthService,
    ApiKeysService,
    SecondFactorsService,
    MfaLoginService,
    PasskeysService,
    PasswordResetService,
    EmailVerificationService,
    CaptchaService,
    TokenService,
    PasswordLogin,
    Reauthentication,
    SessionLoginService,
    CsrfService,
    JwtAuthGuard,
    RateLimitGuard,
    AuthenticationGuard,
  ],
})
export class AuthModule extends ConfigurableAuthModule {
  static override forRoot(options: typeof AUTH_OPTIONS_TYPE): DynamicModule {
    return compose(super.forRoot(options));
  }

  static override forRootAsync(options: typeof AUTH_ASYNC_OPTIONS_TYPE): DynamicModule {
    return compose(super.forRootAsync(options));
  }
}

function compose(definition: DynamicModule & { globalGuards?: boolean; schema?: string }): DynamicModule {
  const { globalGuards = true, schema = 'public', providers = [], imports = [] } = definition;
  placeTablesInSchema(schema, authEntities);
  // The builder's options provider (and the host's imports for an async factory) go
  // into a module of their own, which every feature module imports: visible wiring,
  // no global provider.
  const options: DynamicModule = {
    module: AuthOptionsModule,
    imports,
    providers: [
      ...providers,
      {
        provide: AUTH_OPTIONS,
        inject: [AUTH_MODULE_OPTIONS],
        useFactory: (raw: AuthModuleOptions) => resolveAuthOptions(raw),
      },
      // Each module's options are its part of the resolved options (AuthOptions extends them).
      { provide: USERS_OPTIONS, useExisting: AUTH_OPTIONS },
      { provide: SESSIONS_OPTIONS, useExisting: AUTH_OPTIONS },
      { provide: MAIL_OPTIONS, useExisting: AUTH_OPTIONS },
      {
        provide: INVALIDATION_OPTIONS,
        inject: [AUTH_OPTIONS],
        useFactory: (resolved: AuthOptions) => resolved.invalidation,
      },
      {
        provide: REDIS_OPTIONS,
        inject: [AUTH_OPTIONS],
        useFactory: (resolved: AuthOptions) => resolved.redis,
      },
    ],
    exports: [
      AUTH_OPTIONS,
      USERS_OPTIONS,
      SESSIONS_OPTIONS,
      MAIL_OPTIONS,
      INVALIDATION_OPTIONS,
      REDIS_OPTIONS,
    ],
  };
  const users = UsersModule.register(options);
  const sessions = SessionsModule.register(options);
  const redis = RedisModule.register(options);
  const mail = MailModule.register(options);
  // Registration order is execution order: how often, who the caller is, what they may do.
  const global: Provider[] = globalGuards
    ? GUARDS.map((guard) => ({ provide: APP_GUARD, useExisting: guard }))
    : [];
  return {
    module: AuthModule,
    imports: [
      options,
      AuditModule,
      RolesModule,
      users,
      sessions,
      redis,
      mail,
      InvalidationModule.register(options),
      TypeOrmModule.forFeature([
        RefreshToken,
        LoginAttempts,
        AccountToken,
        TotpFactor,
        RecoveryCode,
        MfaLogin,
        Passkey,
        WebAuthnChallenge,
        SigningKey,
        ApiKey,
      ]),
      ThrottlerModule.forRootAsync({
        imports: [options, redis],
        inject: [AUTH_OPTIONS, RedisConnection],
        useFactory: ({ abuse }: AuthOptions, connection: RedisConnection) => ({
          throttlers: [{ name: 'default', limit: abuse.rateLimit, ttl: abuse.rateWindowMs }],
          errorMessage: TOO_MANY_REQUESTS,
          // With Redis, one count for the whole fleet; without, each instance counts in memory.
          storage: connection.enabled ? new RedisThrottlerStorage(connection) : undefined,
        }),
      }),
      JwtModule.registerAsync({
        imports: [options],
        inject: [AUTH_OPTIONS],
        useFactory: (resolved: AuthOptions) => ({
          secret: jwtKey(resolved),
          // RFC 9068: access tokens say what they are, so no other JWT can pass for one.
          signOptions: { algorithm: 'HS256', header: { alg: 'HS256', typ: ACCESS_TOKEN_TYPE } },
          verifyOptions: {
            algorithms: ['HS256'],
            issuer: resolved.jwt.issuer,
            audience: resolved.jwt.audience,
          },
        }),
      }),
    ],
    providers: global,
    // The feature modules come with it: a host (and the pages) use their services.
    exports: [options, users, sessions, redis, mail, RolesModule, AuditModule],
  };
}
