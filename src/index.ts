/**
 * The package's public API: what a host Nest app imports. Nothing else under `src/`
 * is meant to be imported by a host.
 */
export { AuthModule } from './auth/auth.module';
export type { AuthModuleOptions } from './auth/auth.options';
export { authEntities, authMigrations } from './auth/auth.entities';

// Decorators a host's controllers use.
export { Public } from './auth/decorators/public.decorator';
export { Auth } from './auth/decorators/auth.decorator';
export { CurrentAuth, CurrentUser } from './auth/decorators/current-auth.decorator';
export { RateLimited } from './auth/decorators/rate-limited.decorator';
export { Roles } from './roles/roles.decorator';
export { RecentAuthentication } from './common/recent-authentication.decorator';
export { AllowUnverified } from './auth/decorators/allow-unverified.decorator';
export { CaptchaProtected } from './auth/captcha/captcha-protected.decorator';

// Guards, for `@UseGuards(...)` when AuthModule is registered with `globalGuards: false`.
export { AuthenticationGuard } from './auth/guards/authentication.guard';
export { RateLimitGuard } from './auth/guards/rate-limit.guard';
export { RolesGuard } from './roles/roles.guard';

// Types of what the guards hand a host's controllers.
export type { AuthContext, AuthMethod } from './auth/auth-context';
export type { SignInMethod } from './sessions/sign-in-method';
export { BuiltInRole } from './roles/role-names';

// Entities (for a host's own queries and DataSource) and the services a host may call.
export { User } from './users/user.entity';
export { Role } from './roles/role.entity';
export { CookieSession } from './sessions/cookie-session.entity';
export { TokenLogin } from './sessions/token-login.entity';
export { RefreshToken } from './auth/tokens/refresh-token.entity';
export { LoginAttempts } from './auth/lockout/login-attempts.entity';
export { AuditEvent } from './audit/audit-event.entity';
export { AccountToken } from './auth/recovery/account-token.entity';
export { OutboxMessage } from './mail/outbox-message.entity';
export { TotpFactor } from './auth/mfa/totp-factor.entity';
export { RecoveryCode } from './auth/mfa/recovery-code.entity';
export { MfaLogin } from './auth/mfa/mfa-login.entity';
export { Passkey } from './auth/passkeys/passkey.entity';
export { WebAuthnChallenge } from './auth/passkeys/webauthn-challenge.entity';
export { SigningKey } from './auth/tokens/signing-key.entity';
export { ApiKey } from './auth/api-keys/api-key.entity';
export { UsersService } from './users/users.service';
export { SignInsService } from './sessions/sign-ins.service';
export { AuditService } from './audit/audit.service';

// What a failing PostgreSQL or Redis surfaces as (503), for a host's own exception filter.
export { DependencyUnavailableError, isDependencyUnavailable } from './common/dependency-unavailable';
