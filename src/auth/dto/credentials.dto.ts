import { IsString, MaxLength } from 'class-validator';
import { ApiProperty } from '@nestjs/swagger';
import { PasswordField } from '../../common/fields';

export class CredentialsDto {
  // Not validated as an email: a malformed one simply matches no account (same 401).
  @ApiProperty({ example: 'ada@example.com', maxLength: 254 })
  @IsString()
  @MaxLength(254)
  email!: string;

  @PasswordField()
  password!: string;
}
