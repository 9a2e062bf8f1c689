import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, Length, Matches } from 'class-validator';
import { Omittable, OpaqueTokenField } from '../../../common/fields';

/** A TOTP code: six digits. */
export const TotpCodeField = ({ optional = false } = {}) =>
  applyDecorators(
    (optional ? ApiPropertyOptional : ApiProperty)({ example: '123456', pattern: '^\\d{6}$' }),
    ...(optional ? [Omittable()] : []),
    IsString(),
    Matches(/^\d{6}$/, { message: 'code must be the 6 digits your authenticator shows' }),
  );

/** A recovery code, as printed (`XXXX-XXXX-XXXX-XXXX`; case, dashes and spaces do not matter). */
export const RecoveryCodeField = () =>
  applyDecorators(
    ApiPropertyOptional({ example: 'K7QF-3MZD-9XWA-TR2H', maxLength: 40 }),
    Omittable(),
    IsString(),
    Length(1, 40),
  );

export class TotpCodeDto {
  @TotpCodeField()
  code!: string;
}

export class MfaVerifyDto {
  @OpaqueTokenField()
  mfaToken!: string;

  @TotpCodeField({ optional: true })
  code?: string;

  @RecoveryCodeField()
  recoveryCode?: string;
}

export class MfaChallengeResponse {
  @ApiProperty({ enum: [true] })
  mfaRequired!: true;

  @ApiProperty({
    description: 'For POST /api/auth/mfa/verify: single use, 5 minutes, this kind of sign-in only',
  })
  mfaToken!: string;

  @ApiProperty({ enum: ['totp', 'recovery_code'], isArray: true })
  methods!: ('totp' | 'recovery_code')[];
}

export class TotpSetupResponse {
  @ApiProperty({ description: 'The seed, base32 (160 bits), for typing into an authenticator' })
  secret!: string;

  @ApiProperty({ example: 'otpauth://totp/Nest%20Auth:ada%40example.com?secret=…&issuer=Nest%20Auth' })
  otpauthUri!: string;

  @ApiProperty({ description: 'The otpauth URI as a QR code (an SVG document)' })
  qrCodeSvg!: string;
}

export class RecoveryCodesResponse {
  @ApiProperty({ type: [String], description: 'Ten single-use codes, shown only now' })
  recoveryCodes!: string[];
}
