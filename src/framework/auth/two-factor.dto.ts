import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Matches, MaxLength } from 'class-validator';

export class TwoFactorStatusDto {
  @ApiProperty({ description: 'Logins need a one-time code' }) enabled!: boolean;
  @ApiProperty({ description: 'Set up, waiting for POST /api/auth/2fa/enable' }) pending!: boolean;
  @ApiProperty({ example: 10 }) recoveryCodesLeft!: number;
}

export class TwoFactorSetupDto {
  @ApiProperty({ description: 'Base32 secret, shown only now', example: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' })
  secret!: string;

  @ApiProperty({
    description: 'otpauth:// URI for a QR code, shown only now',
    example:
      'otpauth://totp/Nestor:admin%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Nestor',
  })
  otpauthUri!: string;
}

export class EnableTwoFactorDto {
  @ApiProperty({ description: 'The current 6-digit code of the authenticator app', example: '123456' })
  @IsString()
  @Matches(/^\s*\d{6}\s*$/, { message: 'code must be 6 digits' })
  code!: string;
}

export class RecoveryCodesDto {
  @ApiProperty({
    type: [String],
    description: 'Single-use codes for when the authenticator is lost, shown only now',
    example: ['4k7qz-m2r8x'],
  })
  recoveryCodes!: string[];
}

export class DisableTwoFactorDto {
  @ApiPropertyOptional({ description: 'The account password (or send code)' })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  password?: string;

  @ApiPropertyOptional({
    description: 'A current code or a recovery code (or send password)',
    example: '123456',
  })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  code?: string;
}
