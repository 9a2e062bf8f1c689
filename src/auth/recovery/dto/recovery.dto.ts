import { ApiProperty } from '@nestjs/swagger';
import {
  CaptchaTokenField,
  EmailField,
  NewPasswordField,
  OpaqueTokenField,
  PasswordField,
} from '../../../common/fields';

export class ForgotPasswordDto {
  @EmailField()
  email!: string;

  @CaptchaTokenField()
  captchaToken?: string;
}

export class ResetPasswordDto {
  /** The `token` of the mailed /reset-password link. */
  @OpaqueTokenField()
  token!: string;

  @NewPasswordField()
  newPassword!: string;
}

export class EmailLinkDto {
  /** The `token` of a mailed /verify-email or /confirm-email link. */
  @OpaqueTokenField()
  token!: string;
}

export class ChangeEmailDto {
  @EmailField('newEmail')
  newEmail!: string;

  @PasswordField()
  password!: string;
}

export class AcceptedResponse {
  // One of the recovery controllers' fixed sentences: the longest (RESET_REQUESTED) has 75 characters.
  @ApiProperty({
    example: 'If an account uses this address, a link to reset its password is on its way',
    maxLength: 100,
  })
  message!: string;
}
