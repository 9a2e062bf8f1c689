import { IsString, MaxLength } from 'class-validator';
import { ApiProperty } from '@nestjs/swagger';
import { MAX_EMAIL_LENGTH, PasswordField } from '../../common/fields';

export class CredentialsDto {
  // Not validated as an email: a malformed one simply matches no account (same 401).
  @ApiProperty({ example: 'ada@example.com', maxLength: MAX_EMAIL_LENGTH })
  @IsString()
  @MaxLength(MAX_EMAIL_LENGTH)
  email!: string;

  @PasswordField()
  password!: string;
}
