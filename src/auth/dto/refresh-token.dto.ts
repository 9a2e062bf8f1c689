import { OpaqueTokenField } from '../../common/fields';

export class RefreshTokenDto {
  @OpaqueTokenField()
  refreshToken!: string;
}
