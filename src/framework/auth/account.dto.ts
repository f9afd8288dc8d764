import { ApiProperty } from '@nestjs/swagger';
import { IsEmail, IsString, Matches, MaxLength } from 'class-validator';
import { PasswordDto } from 'src/framework/auth/auth.dto';
import { NewPassword, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from 'src/framework/auth/password-policy';

/** Emailed one-time tokens: 32 random bytes, base64url (43 characters). */
const ONE_TIME_TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** Only these two fields: anything else (`isStaff`, `isSuperuser`, …) is a 422, never silently dropped. */
export class RegisterDto extends PasswordDto {
  @ApiProperty({ example: 'ada@example.com' })
  @IsEmail({}, { message: 'email must be an email address' })
  @MaxLength(254)
  email!: string;
}

export class EmailDto {
  @ApiProperty({ example: 'ada@example.com' })
  @IsEmail({}, { message: 'email must be an email address' })
  @MaxLength(254)
  email!: string;
}

export class OneTimeTokenDto {
  @ApiProperty({ description: 'The token from the email (43 characters)' })
  @IsString()
  @Matches(ONE_TIME_TOKEN, { message: 'token is not a valid token' })
  token!: string;
}

export class ResetPasswordDto extends PasswordDto {
  @ApiProperty({ description: 'The token from the password reset email' })
  @IsString()
  @Matches(ONE_TIME_TOKEN, { message: 'token is not a valid token' })
  token!: string;
}

export class ChangePasswordDto {
  @ApiProperty({ example: 'my old passphrase' })
  @IsString()
  @MaxLength(1024)
  currentPassword!: string;

  @ApiProperty({
    minLength: PASSWORD_MIN_LENGTH,
    maxLength: PASSWORD_MAX_LENGTH,
    example: 'correct horse battery staple',
  })
  @IsString()
  @NewPassword()
  newPassword!: string;
}

/** The answer of the account routes; the mail-sending ones give the same text whatever happened. */
export class AccountMessageDto {
  @ApiProperty({ example: 'Your email address is verified.' })
  detail!: string;
}
