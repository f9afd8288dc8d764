import { createSecretKey } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { deriveKey } from 'src/framework/crypto/keys';
import type { Principal } from 'src/framework/access/principal';
import { PrincipalCache } from 'src/framework/auth/principal-cache';
import { unauthorized } from 'src/framework/access/problems';
import { JWT_AUDIENCE, JWT_ISSUER } from 'src/framework/auth/token.service';
import { NestorConfig } from 'src/framework/config/nestor-config';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface AccessClaims {
  sub?: string;
  fam?: string;
  exp?: number;
}

/**
 * Verifies access JWTs: HS256 only (no `none`, no RS/HS confusion), issuer and audience checked, `exp`
 * required. The user must still exist and be active, and the token's session (refresh family) must not
 * be revoked. The principal comes from PrincipalCache, which every change to users, groups, permissions or
 * sessions invalidates at once.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    config: NestorConfig,
    private readonly principals: PrincipalCache,
  ) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      // A KeyObject: given a Buffer, jsonwebtoken first tries (and fails) to parse it as a public key on
      // every request, ~0.65 ms of CPU. passport-jwt's types lag; jsonwebtoken accepts a KeyObject.
      secretOrKey: createSecretKey(deriveKey(config.secretKey, 'jwt')) as unknown as Buffer,
      algorithms: ['HS256'],
      issuer: JWT_ISSUER,
      audience: JWT_AUDIENCE,
      ignoreExpiration: false,
    });
  }

  async validate(claims: AccessClaims): Promise<Principal & { family?: string }> {
    if (typeof claims.exp !== 'number' || !claims.sub || !/^\d+$/.test(claims.sub)) {
      throw unauthorized('The access token is invalid.');
    }
    const family = typeof claims.fam === 'string' && UUID.test(claims.fam) ? claims.fam : undefined;
    const principal = await this.principals.load(Number(claims.sub), family);
    if (!principal) {
      throw unauthorized('The access token is invalid.');
    }
    return { ...principal, family };
  }
}
