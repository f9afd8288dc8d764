import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsEmail, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { NewPassword, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from 'src/framework/fields/password-policy';
import { INT32_MAX } from 'src/framework/openapi/route-docs';

/** The longest email address (RFC 5321's path limit), as the `user.email` column stores it. */
export const EMAIL_MAX_LENGTH = 254;
/** A password being checked may be as long as earlier policies allowed (new ones: see password-policy). */
export const CURRENT_PASSWORD_MAX_LENGTH = 1024;
/** A TOTP code, or a recovery code (`xxxxx-xxxxx`, spaces and dashes allowed). */
export const OTP_MAX_LENGTH = 64;
/** Refresh tokens: `rt_` and 32 random bytes in base64url. */
export const REFRESH_TOKEN_PATTERN = /^rt_[A-Za-z0-9_-]{43}$/;
/** A permission codename as stored (`permission.codename`, 150 characters): `<resource>.<permission>`. */
export const PERMISSION_CODENAME = {
  type: 'string',
  maxLength: 150,
  pattern: '^\\S+\\.\\S+$',
  example: 'orders.view',
} as const;

/**
 * An email address in a body, validated and documented by one declaration.
 * Example: `@EmailField() email!: string;`
 */
export function EmailField(example = 'ada@example.com'): PropertyDecorator {
  return applyDecorators(
    ApiProperty({ format: 'email', maxLength: EMAIL_MAX_LENGTH, example }),
    IsEmail({}, { message: 'email must be an email address' }),
    MaxLength(EMAIL_MAX_LENGTH),
  );
}

/**
 * A password being set: the password policy (12 to 128 characters, not a common or breached one, ASVS V2.1),
 * checked and documented alike. Example: `@NewPasswordField() newPassword!: string;`
 */
export function NewPasswordField(): PropertyDecorator {
  return applyDecorators(
    ApiProperty({
      minLength: PASSWORD_MIN_LENGTH,
      maxLength: PASSWORD_MAX_LENGTH,
      format: 'password',
      example: 'correct horse battery staple',
    }),
    IsString(),
    NewPassword(),
  );
}

/**
 * A password being checked (any length up to 1024: older passwords may break today's policy).
 * Example: `@CurrentPasswordField() password!: string;`
 */
export function CurrentPasswordField(
  options: { required?: boolean; description?: string } = {},
): PropertyDecorator {
  const doc = {
    maxLength: CURRENT_PASSWORD_MAX_LENGTH,
    format: 'password',
    example: 'correct horse battery staple',
    description: options.description,
  };
  return options.required === false
    ? applyDecorators(
        ApiPropertyOptional(doc),
        IsOptional(),
        IsString(),
        MaxLength(CURRENT_PASSWORD_MAX_LENGTH),
      )
    : applyDecorators(ApiProperty(doc), IsString(), MaxLength(CURRENT_PASSWORD_MAX_LENGTH));
}

/**
 * An optional one-time code: TOTP or recovery code.
 * Example: `@OtpField('TOTP code when 2FA is enabled') otp?: string;`
 */
export function OtpField(description: string): PropertyDecorator {
  return applyDecorators(
    ApiPropertyOptional({
      description,
      maxLength: OTP_MAX_LENGTH,
      pattern: '^[0-9A-Za-z \\-]+$',
      example: '123456',
    }),
    IsOptional(),
    IsString(),
    MaxLength(OTP_MAX_LENGTH),
  );
}

export class LoginDto {
  @EmailField('admin@example.com')
  email!: string;

  @CurrentPasswordField()
  password!: string;

  @OtpField('TOTP code (or a recovery code) when 2FA is enabled')
  otp?: string;
}

export class RefreshDto {
  @ApiProperty({
    description: 'The refresh token from login or the previous refresh',
    pattern: REFRESH_TOKEN_PATTERN.source,
    maxLength: 46,
    example: 'rt_3q2-7wEvOuBT9IpV6hn5yYzN0cK8dJmLQa1sFgHxRtE',
  })
  @IsString()
  @Matches(REFRESH_TOKEN_PATTERN, { message: 'refreshToken is not a refresh token' })
  refreshToken!: string;
}

export class TokenPairDto {
  @ApiProperty({
    description: 'A JWT (HS256) to send as `Authorization: Bearer <accessToken>`',
    pattern: '^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$',
    maxLength: 1024,
  })
  accessToken!: string;

  @ApiProperty({
    description: 'Single use: POST /api/auth/refresh exchanges it for a new pair',
    pattern: REFRESH_TOKEN_PATTERN.source,
    maxLength: 46,
  })
  refreshToken!: string;

  @ApiProperty({
    description: 'Access token lifetime in seconds',
    type: 'integer',
    format: 'int32',
    minimum: 1,
    maximum: INT32_MAX,
    example: 900,
  })
  expiresIn!: number;

  @ApiProperty({ enum: ['Bearer'], example: 'Bearer' }) tokenType!: string;
}

export class MeDto {
  @ApiProperty({ type: 'integer', format: 'int32', minimum: 1, maximum: INT32_MAX, example: 1 }) id!: number;
  @ApiProperty({ format: 'email', maxLength: EMAIL_MAX_LENGTH, example: 'ada@example.com' }) email!: string;
  @ApiProperty() isStaff!: boolean;
  @ApiProperty() isSuperuser!: boolean;
  @ApiProperty() emailVerified!: boolean;
  @ApiProperty({
    type: 'array',
    description: 'Permission codenames held directly or through groups (superusers hold all without a list)',
    items: PERMISSION_CODENAME,
    example: ['orders.view'],
  })
  permissions!: string[];
}

/**
 * A new password: 12 to 128 characters, not a common or breached one (ASVS V2.1; NIST 800-63B favours
 * length over composition rules, so there are none).
 */
export class PasswordDto {
  @NewPasswordField()
  password!: string;
}
