import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsEmail, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { NewPassword, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from 'src/framework/auth/password-policy';

export class LoginDto {
  @ApiProperty({ example: 'admin@example.com' })
  @IsEmail()
  @MaxLength(254)
  email!: string;

  @ApiProperty({ example: 'correct horse battery staple' })
  @IsString()
  @MaxLength(1024)
  password!: string;

  @ApiPropertyOptional({
    description: 'TOTP code (or a recovery code) when 2FA is enabled',
    example: '123456',
  })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  otp?: string;
}

export class RefreshDto {
  @ApiProperty({ description: 'The refresh token from login or the previous refresh' })
  @IsString()
  @Matches(/^rt_[A-Za-z0-9_-]{43}$/, { message: 'refreshToken is not a refresh token' })
  refreshToken!: string;
}

export class TokenPairDto {
  @ApiProperty() accessToken!: string;
  @ApiProperty() refreshToken!: string;
  @ApiProperty({ description: 'Access token lifetime in seconds', example: 900 }) expiresIn!: number;
  @ApiProperty({ example: 'Bearer' }) tokenType!: string;
}

export class MeDto {
  @ApiProperty() id!: number;
  @ApiProperty() email!: string;
  @ApiProperty() isStaff!: boolean;
  @ApiProperty() isSuperuser!: boolean;
  @ApiProperty() emailVerified!: boolean;
  @ApiProperty({ type: [String], example: ['orders.view'] }) permissions!: string[];
}

/**
 * A new password: 12 to 128 characters, not a common or breached one (ASVS V2.1; NIST 800-63B favours
 * length over composition rules, so there are none).
 */
export class PasswordDto {
  @ApiProperty({
    minLength: PASSWORD_MIN_LENGTH,
    maxLength: PASSWORD_MAX_LENGTH,
    example: 'correct horse battery staple',
  })
  @IsString()
  @NewPassword()
  password!: string;
}
