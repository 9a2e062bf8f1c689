import { CaptchaTokenField, EmailField, NameField, NewPasswordField } from '../../common/fields';

export class SignupDto {
  @EmailField()
  email!: string;

  @NewPasswordField()
  password!: string;

  @NameField()
  name?: string;

  @CaptchaTokenField()
  captchaToken?: string;
}
