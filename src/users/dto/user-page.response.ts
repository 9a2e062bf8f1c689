import { ApiProperty } from '@nestjs/swagger';
import { UserResponse } from './user.response';

export class UserPageResponse {
  @ApiProperty({ type: [UserResponse] })
  items!: UserResponse[];

  @ApiProperty({ description: 'Users matching the query, all pages together' })
  total!: number;

  @ApiProperty()
  page!: number;

  @ApiProperty()
  limit!: number;
}
