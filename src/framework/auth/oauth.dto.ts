import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { EMAIL_MAX_LENGTH } from 'src/framework/auth/auth.dto';
import { INT32_MAX } from 'src/framework/openapi/route-docs';

const PROVIDER_NAME = {
  type: 'string' as const,
  pattern: '^[a-z][a-z0-9]{0,39}$',
  maxLength: 40,
  example: 'google',
};

/** A configured sign-in provider, for "Sign in with …" buttons. */
export class OAuthProviderDto {
  @ApiProperty({ ...PROVIDER_NAME, description: 'Its name in OAUTH_PROVIDERS and in the URLs' })
  name!: string;

  @ApiProperty({ maxLength: 100, example: 'Google', description: 'For the button: "Sign in with <label>"' })
  label!: string;

  @ApiProperty({
    maxLength: 200,
    example: '/api/auth/oauth/google/authorize',
    description: 'Where a browser starts the sign-in (add `?mode=admin` for the admin)',
  })
  authorizeUrl!: string;
}

/** The query of `GET /api/auth/oauth/{provider}/authorize`. */
export class OAuthAuthorizeQueryDto {
  @ApiPropertyOptional({
    enum: ['api', 'admin'],
    default: 'api',
    description: '`api`: the callback answers tokens; `admin`: it opens an admin session (staff only)',
  })
  @IsOptional()
  @IsIn(['api', 'admin'])
  mode?: 'api' | 'admin';
}

/** An account at a provider linked to yours. */
export class IdentityDto {
  @ApiProperty({ type: 'integer', format: 'int32', minimum: 1, maximum: INT32_MAX, example: 1 })
  id!: number;

  @ApiProperty({ ...PROVIDER_NAME })
  provider!: string;

  @ApiProperty({ maxLength: 255, example: '110169484474386276334', description: "The provider's id for you" })
  subject!: string;

  @ApiProperty({
    type: 'string',
    format: 'email',
    maxLength: EMAIL_MAX_LENGTH,
    nullable: true,
    description: 'The verified address the provider reported when it was linked',
  })
  email!: string | null;

  @ApiProperty({ type: 'string', format: 'date-time', maxLength: 32 })
  linkedAt!: Date;
}
