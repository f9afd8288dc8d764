import { createSecretKey } from 'node:crypto';
import { Module, forwardRef } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { PassportModule } from '@nestjs/passport';
import { ThrottlerModule } from '@nestjs/throttler';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AccountController } from 'src/framework/auth/account.controller';
import { AccountService } from 'src/framework/auth/account.service';
import { AdminSession } from 'src/framework/auth/session.entity';
import { ApiKey } from 'src/framework/auth/api-key.entity';
import { ApiKeyService } from 'src/framework/auth/api-key.service';
import { ApiKeysController } from 'src/framework/auth/api-keys.controller';
import { AuthController } from 'src/framework/auth/auth.controller';
import { NestorAuthGuard } from 'src/framework/auth/auth.guard';
import { AuthService } from 'src/framework/auth/auth.service';
import { Group } from 'src/framework/auth/group.entity';
import { GroupResource } from 'src/framework/auth/group.resource';
import { JwtStrategy } from 'src/framework/auth/jwt.strategy';
import { deriveKey } from 'src/framework/crypto/keys';
import { LoginAttempt } from 'src/framework/auth/login-attempt.entity';
import { LoginThrottleService } from 'src/framework/auth/login-throttle.service';
import { OneTimeToken } from 'src/framework/auth/one-time-token.entity';
import { OAuthController } from 'src/framework/auth/oauth.controller';
import { OAuthFlow } from 'src/framework/auth/oauth-flow.entity';
import { OAuthService } from 'src/framework/auth/oauth.service';
import { Permission } from 'src/framework/auth/permission.entity';
import { PermissionResource } from 'src/framework/auth/permission.resource';
import { RateLimitGuard, rateLimitOptions } from 'src/framework/auth/rate-limit';
import { RefreshToken } from 'src/framework/auth/refresh-token.entity';
import { JWT_AUDIENCE, JWT_ISSUER, TokenService } from 'src/framework/auth/token.service';
import { SecurityEvents } from 'src/framework/auth/security-events';
import { SessionService } from 'src/framework/auth/session.service';
import { SessionsController } from 'src/framework/auth/sessions.controller';
import { UserSessionsService } from 'src/framework/auth/user-sessions.service';
import { TwoFactorController } from 'src/framework/auth/two-factor.controller';
import { TwoFactorService } from 'src/framework/auth/two-factor.service';
import { User } from 'src/framework/auth/user.entity';
import { UserIdentity } from 'src/framework/auth/user-identity.entity';
import { UserResource } from 'src/framework/auth/user.resource';
import { VerifyEmailPageController } from 'src/framework/auth/verify-email-page.controller';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { ResourceModule } from 'src/framework/resource/resource.module';
import { PrincipalCache } from 'src/framework/auth/principal-cache';

export const AUTH_ENTITIES = [
  User,
  Group,
  Permission,
  RefreshToken,
  OneTimeToken,
  ApiKey,
  LoginAttempt,
  AdminSession,
  UserIdentity,
  OAuthFlow,
];

/** Users, groups, permissions, tokens, and the global guards that enforce them and the request budget. */
@Module({
  imports: [
    TypeOrmModule.forFeature(AUTH_ENTITIES),
    // Users and groups are staff-only resources: /api/users, /api/groups.
    // The user resource's admin actions (password reset, set password) use the account services.
    ResourceModule.forFeature([UserResource, GroupResource, PermissionResource], {
      imports: [forwardRef(() => AuthModule)],
    }),
    PassportModule,
    ThrottlerModule.forRootAsync({ inject: [NestorConfig], useFactory: rateLimitOptions }),
    JwtModule.registerAsync({
      inject: [NestorConfig],
      useFactory: (config: NestorConfig) => ({
        // A KeyObject, not the Buffer: jsonwebtoken would try to parse a Buffer as a public key per call.
        privateKey: createSecretKey(deriveKey(config.secretKey, 'jwt')),
        signOptions: {
          algorithm: 'HS256',
          issuer: JWT_ISSUER,
          audience: JWT_AUDIENCE,
          expiresIn: config.accessTokenTtl,
        },
        verifyOptions: { algorithms: ['HS256'], issuer: JWT_ISSUER, audience: JWT_AUDIENCE },
      }),
    }),
  ],
  controllers: [
    AuthController,
    AccountController,
    ApiKeysController,
    SessionsController,
    TwoFactorController,
    VerifyEmailPageController,
    OAuthController,
  ],
  providers: [
    AuthService,
    AccountService,
    TokenService,
    ApiKeyService,
    TwoFactorService,
    LoginThrottleService,
    SessionService,
    UserSessionsService,
    SecurityEvents,
    OAuthService,
    JwtStrategy,
    PrincipalCache,
    // Global guards run in this order: who is calling, then their request budget. Exported: the GraphQL
    // endpoint runs the same two on its HTTP request before the document executes.
    NestorAuthGuard,
    RateLimitGuard,
    { provide: APP_GUARD, useExisting: NestorAuthGuard },
    { provide: APP_GUARD, useExisting: RateLimitGuard },
  ],
  exports: [
    TypeOrmModule,
    PrincipalCache,
    AccountService,
    AuthService,
    TokenService,
    ApiKeyService,
    SessionService,
    TwoFactorService,
    LoginThrottleService,
    SecurityEvents,
    NestorAuthGuard,
    RateLimitGuard,
  ],
})
export class AuthModule {}
