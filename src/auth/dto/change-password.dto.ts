import { NewPasswordField, PasswordField } from '../../common/fields';

export class ChangePasswordDto {
  @PasswordField()
  currentPassword!: string;

  @NewPasswordField()
  newPassword!: string;
}

export class ReauthDto {
  @PasswordField()
  password!: string;
}
