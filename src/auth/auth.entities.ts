import { AuditEvent } from '../audit/audit-event.entity';
import { ApiKey } from './api-keys/api-key.entity';
import { migrations } from '../database/migrations';
import { Role } from '../roles/role.entity';
import { CookieSession } from '../sessions/cookie-session.entity';
import { TokenLogin } from '../sessions/token-login.entity';
import { User } from '../users/user.entity';
import { OutboxMessage } from '../mail/outbox-message.entity';
import { LoginAttempts } from './lockout/login-attempts.entity';
import { MfaLogin } from './mfa/mfa-login.entity';
import { RecoveryCode } from './mfa/recovery-code.entity';
import { TotpFactor } from './mfa/totp-factor.entity';
import { Passkey } from './passkeys/passkey.entity';
import { WebAuthnChallenge } from './passkeys/webauthn-challenge.entity';
import { AccountToken } from './recovery/account-token.entity';
import { RefreshToken } from './tokens/refresh-token.entity';
import { SigningKey } from './tokens/signing-key.entity';

/**
 * Every table of AuthModule and its feature modules, for a DataSource of one's own: a
 * host app's (beside its entities), the TypeORM CLI's. Inside Nest the modules register
 * them themselves (`TypeOrmModule.forFeature`, picked up with `autoLoadEntities`).
 */
export const authEntities = [
  User,
  Role,
  CookieSession,
  TokenLogin,
  RefreshToken,
  LoginAttempts,
  AuditEvent,
  AccountToken,
  OutboxMessage,
  TotpFactor,
  RecoveryCode,
  MfaLogin,
  Passkey,
  WebAuthnChallenge,
  SigningKey,
  ApiKey,
];

/** The migrations that create and update those tables, oldest first. */
export const authMigrations = migrations;
