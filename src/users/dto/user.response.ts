import { ApiProperty } from '@nestjs/swagger';
import type { User } from '../user.entity';

/**
 * The only shape in which a user leaves the service. Fields are copied one by one,
 * so a password hash (or any column added later) cannot reach a client by accident.
 */
export class UserResponse {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'ada@example.com' })
  email!: string;

  @ApiProperty({ description: 'The owner followed a link mailed to this address' })
  emailVerified!: boolean;

  @ApiProperty({ type: String, nullable: true, example: 'Ada Lovelace' })
  name!: string | null;

  @ApiProperty({ type: [String], example: ['user'] })
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
      roles: user.roles.map((role) => role.name).sort(),
      disabled: user.disabled,
      createdAt: user.createdAt.toISOString(),
    });
  }
}
