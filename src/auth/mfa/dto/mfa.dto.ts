import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, Length, Matches } from 'class-validator';
import { MAX_EMAIL_LENGTH, Omittable, OPAQUE_SECRET_LENGTH, OpaqueTokenField } from '../../../common/fields';
import type { SecondFactorMethod } from '../mfa-login.service';
import { RECOVERY_CODE_COUNT } from '../recovery-codes.service';

/** A TOTP code: six digits. */
export const TotpCodeField = ({ optional = false } = {}) =>
  applyDecorators(
    (optional ? ApiPropertyOptional : ApiProperty)({ example: '123456', pattern: '^\\d{6}$', maxLength: 6 }),
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

const SECOND_FACTOR_METHODS: SecondFactorMethod[] = ['totp', 'recovery_code'];

export class MfaChallengeResponse {
  @ApiProperty({ enum: [true] })
  mfaRequired!: true;

  @ApiProperty({
    description: 'For POST /api/auth/mfa/verify: single use, 5 minutes, this kind of sign-in only',
    maxLength: OPAQUE_SECRET_LENGTH,
  })
  mfaToken!: string;

  @ApiProperty({ enum: SECOND_FACTOR_METHODS, isArray: true, maxItems: SECOND_FACTOR_METHODS.length })
  methods!: SecondFactorMethod[];
}

export class TotpSetupResponse {
  @ApiProperty({
    description: 'The seed, base32 (160 bits), for typing into an authenticator',
    maxLength: 160 / 5,
  })
  secret!: string;

  // `otpauth://totp/{issuer}:{email}?secret={seed}&issuer={issuer}`: 64 characters with the seed, plus,
  // percent-encoded, SERVICE_NAME twice (at most 100 UTF-16 units, 9 characters each at most) and
  // users.email (at most 254 characters, 12 each at most).
  @ApiProperty({
    example: 'otpauth://totp/Nest%20Auth:ada%40example.com?secret=…&issuer=Nest%20Auth',
    maxLength: 64 + 2 * 9 * 100 + 12 * MAX_EMAIL_LENGTH,
  })
  otpauthUri!: string;

  // qrcode's SVG of the largest QR code (version 40, 177 modules a side; a longer URI fails): at
  // most 538 characters of path a row (modules alternating), in a 169-character <svg> wrapper.
  @ApiProperty({ description: 'The otpauth URI as a QR code (an SVG document)', maxLength: 177 * 538 + 169 })
  qrCodeSvg!: string;
}

export class RecoveryCodesResponse {
  @ApiProperty({
    type: [String],
    example: ['K7QF-3MZD-9XWA-TR2H'],
    description: 'Ten single-use codes, shown only now',
    maxItems: RECOVERY_CODE_COUNT,
    maxLength: 'XXXX-XXXX-XXXX-XXXX'.length,
  })
  recoveryCodes!: string[];
}
