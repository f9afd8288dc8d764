import {
  Body,
  CanActivate,
  Controller,
  Delete,
  ExecutionContext,
  Get,
  Header,
  HttpCode,
  Injectable,
  Param,
  Post,
  Req,
  UseGuards,
} from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { InjectRepository } from '@nestjs/typeorm';
import type { FastifyRequest } from 'fastify';
import { In, IsNull, Repository } from 'typeorm';
import { AccountService } from 'src/framework/auth/account.service';
import { ApiKey } from 'src/framework/auth/api-key.entity';
import { ApiKeyService } from 'src/framework/auth/api-key.service';
import { ApiKeyDto, CreateApiKeyDto, CreatedApiKeyDto } from 'src/framework/auth/api-keys.dto';
import { Authenticated, CurrentPrincipal } from 'src/framework/access/auth.decorators';
import { Permission } from 'src/framework/auth/permission.entity';
import { Principal, can, requireSession } from 'src/framework/access/principal';
import { PROBLEM_TYPES, ProblemException, ProblemFieldError } from 'src/framework/http/problem';
import { validationProblem } from 'src/framework/http/validation';
import { ApiIdParam, ApiInvalidBody } from 'src/framework/openapi/route-docs';

/**
 * Key management needs a signed-in user: an API key can neither mint keys (it could widen or outlive its own
 * grant) nor list or revoke them. A guard, so the 403 comes before body validation.
 */
@Injectable()
class NoApiKeyGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    requireSession(
      context.switchToHttp().getRequest<{ principal?: Principal }>().principal,
      'Managing API keys',
    );
    return true;
  }
}

function toDto(key: ApiKey): ApiKeyDto {
  const { id, name, prefix, permissions, lastUsedAt, revokedAt, createdAt } = key;
  return { id, name, prefix, permissions, lastUsedAt, revokedAt, createdAt };
}

/** `/api/auth/api-keys`: the signed-in user's keys for machine clients. */
@ApiTags('auth')
@Authenticated()
@UseGuards(NoApiKeyGuard)
@Controller('api/auth/api-keys')
export class ApiKeysController {
  constructor(
    @InjectRepository(ApiKey) private readonly keys: Repository<ApiKey>,
    @InjectRepository(Permission) private readonly permissionRows: Repository<Permission>,
    private readonly accounts: AccountService,
  ) {}

  @Post()
  @Header('cache-control', 'no-store') // the key is in the body, once: no cache may keep it
  @HttpCode(201)
  @ApiOperation({
    operationId: 'auth.apiKeys.create',
    summary: 'Create an API key with a subset of your permissions; the key is shown only in this response',
    description:
      'For machine clients: send the key as `Authorization: Bearer nst_…`. It acts for you with the listed ' +
      'permissions that you still hold at the time of each request. Only a signed-in user (not a key) may ' +
      'create keys.',
  })
  @ApiCreatedResponse({ type: CreatedApiKeyDto })
  @ApiResponse({ status: 403, description: 'Called with an API key' })
  @ApiInvalidBody('Invalid body, or a permission that does not exist or that you do not hold')
  async create(
    @Body() body: CreateApiKeyDto,
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
  ): Promise<CreatedApiKeyDto> {
    const requested = [...new Set(body.permissions)];
    await this.assertGrantable(body.permissions, principal);
    const { key, prefix, secretHash } = ApiKeyService.mint();
    const saved = await this.keys.save(
      this.keys.create({
        userId: principal.userId,
        name: body.name,
        prefix,
        secretHash,
        permissions: requested,
        lastUsedAt: null,
        revokedAt: null,
      }),
    );
    await this.accounts.recordAccountChange(
      this.keys.manager,
      'api-key.created',
      principal.userId,
      principal,
      { keyId: saved.id, prefix: saved.prefix, permissions: saved.permissions },
      request,
    );
    return { ...toDto(saved), key };
  }

  /** 422 naming each permission that does not exist or that the caller does not hold (a key never exceeds its user). */
  private async assertGrantable(permissions: string[], principal: Principal): Promise<void> {
    const existing = new Set(
      (
        await this.permissionRows.find({
          select: { codename: true },
          where: { codename: In([...new Set(permissions)]) },
        })
      ).map((p) => p.codename),
    );
    const errors: ProblemFieldError[] = [];
    permissions.forEach((codename, index) => {
      if (!existing.has(codename)) {
        errors.push({
          pointer: `/permissions/${index}`,
          code: 'unknown',
          message: `${codename} is not a permission`,
        });
      } else if (!can(principal, codename)) {
        errors.push({
          pointer: `/permissions/${index}`,
          code: 'notHeld',
          message: `You do not hold ${codename}, so a key of yours cannot have it`,
        });
      }
    });
    if (errors.length) {
      throw validationProblem(errors);
    }
  }

  @Get()
  @ApiOperation({
    operationId: 'auth.apiKeys.list',
    summary: 'Your API keys, revoked ones included (never their secrets)',
    description: 'Oldest first; `lastUsedAt` shows when each key last authenticated a request.',
  })
  @ApiOkResponse({ type: [ApiKeyDto] })
  @ApiResponse({ status: 403, description: 'Called with an API key' })
  async list(@CurrentPrincipal() principal: Principal): Promise<ApiKeyDto[]> {
    const rows = await this.keys.find({ where: { userId: principal.userId }, order: { id: 'ASC' } });
    return rows.map(toDto);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({
    operationId: 'auth.apiKeys.revoke',
    summary: 'Revoke one of your API keys (at once; revoking twice is harmless)',
    description: 'The next request with the key answers 401. The key stays in the list, with `revokedAt`.',
  })
  @ApiIdParam('id', 'The id of one of your keys (from the list)')
  @ApiResponse({ status: 204, description: 'Revoked' })
  @ApiResponse({ status: 403, description: 'Called with an API key' })
  @ApiResponse({ status: 404, description: 'No such key of yours (also for an id that is not a number)' })
  async revoke(
    @Param('id') id: string,
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
  ): Promise<void> {
    const keyId = /^\d{1,10}$/.test(id) ? Number(id) : NaN;
    const found = keyId <= 2147483647 && (await this.keys.existsBy({ id: keyId, userId: principal.userId }));
    if (!found) {
      throw new ProblemException({
        type: PROBLEM_TYPES.notFound,
        title: 'Not Found',
        status: 404,
        detail: 'You have no API key with this id.',
      });
    }
    const revoked = await this.keys.update({ id: keyId, revokedAt: IsNull() }, { revokedAt: () => 'now()' });
    if (revoked.affected) {
      await this.accounts.recordAccountChange(
        this.keys.manager,
        'api-key.revoked',
        principal.userId,
        principal,
        { keyId },
        request,
      );
    }
  }
}
