import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { IsString, Matches } from 'class-validator';
import { CurrentPasswordField, EmailField, NewPasswordField, PasswordDto } from 'src/framework/auth/auth.dto';

/** Emailed one-time tokens: 32 random bytes, base64url (43 characters). */
export const ONE_TIME_TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** A one-time token from a mail, validated and documented alike. */
function OneTimeTokenField(description: string): PropertyDecorator {
  return applyDecorators(
    ApiProperty({
      description,
      minLength: 43,
      maxLength: 43,
      pattern: ONE_TIME_TOKEN.source,
      example: 'BJFYsTuUDsYo32hNZrWwKHD8ouWgDbez3iExSy1G-tU',
    }),
    IsString(),
    Matches(ONE_TIME_TOKEN, { message: 'token is not a valid token' }),
  );
}

/** Only these two fields: anything else (`isStaff`, `isSuperuser`, …) is a 422, never silently dropped. */
export class RegisterDto extends PasswordDto {
  @EmailField()
  email!: string;
}

export class EmailDto {
  @EmailField()
  email!: string;
}

export class OneTimeTokenDto {
  @OneTimeTokenField('The token from the email (43 characters)')
  token!: string;
}

export class ResetPasswordDto extends PasswordDto {
  @OneTimeTokenField('The token from the password reset email (43 characters)')
  token!: string;
}

export class ChangePasswordDto {
  @CurrentPasswordField()
  currentPassword!: string;

  @NewPasswordField()
  newPassword!: string;
}

/** The answer of the account routes; the mail-sending ones give the same text whatever happened. */
export class AccountMessageDto {
  @ApiProperty({ maxLength: 200, pattern: '\\S', example: 'Your email address is verified.' })
  detail!: string;
}
