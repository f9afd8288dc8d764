import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsEmail, IsOptional, IsString, Length, Matches, MaxLength } from 'class-validator';

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

/** Passwords: at least 10 characters (NIST 800-63B favours length over composition rules). */
export class PasswordDto {
  @ApiProperty({ minLength: 10, example: 'correct horse battery staple' })
  @IsString()
  @Length(10, 1024, { message: 'password must be between 10 and 1024 characters' })
  password!: string;
}
