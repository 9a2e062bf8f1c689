import { ApiProperty } from '@nestjs/swagger';
import { MAX_EMAIL_LENGTH, MAX_NAME_LENGTH } from '../../common/fields';
import { RoleNamesProperty } from '../../roles/dto/role-name.field';
import type { User } from '../user.entity';

export class SecondFactorsResponse {
  @ApiProperty({ description: 'A confirmed TOTP authenticator' })
  totp!: boolean;

  @ApiProperty({ description: 'At least one passkey' })
  passkeys!: boolean;
}

/**
 * The only shape in which a user leaves the service. Fields are copied one by one,
 * so a password hash (or any column added later) cannot reach a client by accident.
 */
export class UserResponse {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'ada@example.com', maxLength: MAX_EMAIL_LENGTH })
  email!: string;

  @ApiProperty({ description: 'The owner followed a link mailed to this address' })
  emailVerified!: boolean;

  @ApiProperty({ type: String, nullable: true, example: 'Ada Lovelace', maxLength: MAX_NAME_LENGTH })
  name!: string | null;

  @ApiProperty({ type: SecondFactorsResponse, description: 'Which second factors the user has' })
  mfa!: SecondFactorsResponse;

  @RoleNamesProperty()
  roles!: string[];

  @ApiProperty()
  disabled!: boolean;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;

  static from(user: User): UserResponse {
    return Object.assign(new UserResponse(), {
      id: user.id,
      email: user.email,
      emailVerified: user.emailVerified,
      name: user.name,
      mfa: { totp: user.totpEnabled, passkeys: user.passkeyCount > 0 },
      roles: user.roles.map((role) => role.name).sort(),
      disabled: user.disabled,
      createdAt: user.createdAt.toISOString(),
    });
  }
}
