import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsObject } from 'class-validator';
import { NewPasswordField, Omittable, PasswordField } from '../../common/fields';
import { RecoveryCodeField, TotpCodeField } from '../mfa/dto/mfa.dto';

export class ChangePasswordDto {
  @PasswordField()
  currentPassword!: string;

  @NewPasswordField()
  newPassword!: string;
}

/** Exactly one factor: the password, a TOTP code, a recovery code, or a passkey's assertion. */
export class ReauthDto {
  @PasswordField({ optional: true })
  password?: string;

  @TotpCodeField({ optional: true })
  code?: string;

  @RecoveryCodeField()
  recoveryCode?: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: 'A WebAuthn assertion for options from POST /api/auth/passkeys/authentication/options',
  })
  @Omittable()
  @IsObject()
  passkey?: Record<string, unknown>;
}
