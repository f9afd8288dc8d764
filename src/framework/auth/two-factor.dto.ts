import { ApiProperty } from '@nestjs/swagger';
import { IsString, Matches, MaxLength } from 'class-validator';
import { CurrentPasswordField, OtpField } from 'src/framework/auth/auth.dto';
import { RECOVERY_CODE_COUNT } from 'src/framework/auth/two-factor.service';

/** A TOTP code as typed: six digits, surrounding spaces allowed. */
const SIX_DIGITS = /^\s*\d{6}\s*$/;

export class TwoFactorStatusDto {
  @ApiProperty({ description: 'Logins need a one-time code' }) enabled!: boolean;
  @ApiProperty({ description: 'Set up, waiting for POST /api/auth/2fa/enable' }) pending!: boolean;
  @ApiProperty({
    type: 'integer',
    format: 'int32',
    minimum: 0,
    maximum: RECOVERY_CODE_COUNT,
    example: RECOVERY_CODE_COUNT,
  })
  recoveryCodesLeft!: number;
}

export class TwoFactorSetupDto {
  @ApiProperty({
    description: 'Base32 secret, shown only now',
    pattern: '^[A-Z2-7]+=*$',
    maxLength: 128,
    example: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP',
  })
  secret!: string;

  @ApiProperty({
    description: 'otpauth:// URI for a QR code, shown only now',
    format: 'uri',
    pattern: '^otpauth://totp/',
    maxLength: 2048,
    example:
      'otpauth://totp/Nestor:admin%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Nestor',
  })
  otpauthUri!: string;
}

export class EnableTwoFactorDto {
  @ApiProperty({
    description: 'The current 6-digit code of the authenticator app',
    pattern: SIX_DIGITS.source,
    maxLength: 64,
    example: '123456',
  })
  @IsString()
  @MaxLength(64)
  @Matches(SIX_DIGITS, { message: 'code must be 6 digits' })
  code!: string;
}

export class RecoveryCodesDto {
  @ApiProperty({
    type: 'array',
    items: { type: 'string', pattern: '^[0-9a-z]{4}(-[0-9a-z]{4}){3}$', maxLength: 19 },
    minItems: RECOVERY_CODE_COUNT,
    maxItems: RECOVERY_CODE_COUNT,
    description: 'Single-use codes for when the authenticator is lost, shown only now',
    example: [
      'm9s3-46q3-d25v-t4f5',
      'v37e-3s3e-28jt-97kb',
      '6cq6-43dz-vmxx-qkfb',
      'f5kz-nwj4-7tan-9zt2',
      '4mnp-zx45-hy43-kwjr',
      'p1xp-a7z3-dj8f-ssz5',
      'awsh-8vht-pre9-5b9e',
      'e0zb-gj09-tqm8-3xss',
      'ss6y-s3c4-dwa7-n360',
      '96q1-4dr9-gpqy-77zx',
    ],
  })
  recoveryCodes!: string[];
}

export class ReplaceRecoveryCodesDto {
  @ApiProperty({
    description: 'A current code of the authenticator app, or one of the recovery codes',
    maxLength: 64,
    pattern: '^[0-9A-Za-z \\-]+$',
    example: '123456',
  })
  @IsString()
  @MaxLength(64)
  @Matches(/^[0-9A-Za-z -]+$/, { message: 'code must be a one-time code or a recovery code' })
  code!: string;
}

export class DisableTwoFactorDto {
  @CurrentPasswordField({ required: false, description: 'The account password (or send code)' })
  password?: string;

  @OtpField('A current code or a recovery code (or send password)')
  code?: string;
}
