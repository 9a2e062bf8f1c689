import { ApiProperty } from '@nestjs/swagger';
import { MAX_PAGE_SIZE } from '../../common/page-query';
import { UserResponse } from './user.response';

export class UserPageResponse {
  @ApiProperty({ type: [UserResponse], maxItems: MAX_PAGE_SIZE })
  items!: UserResponse[];

  @ApiProperty({ description: 'Users matching the query, all pages together' })
  total!: number;

  @ApiProperty()
  page!: number;

  @ApiProperty()
  limit!: number;
}
