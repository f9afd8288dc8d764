import { Controller, DynamicModule, Get, Module } from '@nestjs/common';
import { ApiOperation } from '@nestjs/swagger';
import { AppModule } from 'src/app.module';
import { Authenticated, Public, RequirePermission } from 'src/framework/access/auth.decorators';
import { LoadedConfig } from 'src/framework/config/load-config';
import { buildOpenApiDocument } from 'src/framework/openapi/openapi';
import { TestApp, createTestApp, createTestUser } from 'src/framework/testing';

/** Hand-written routes with each kind of auth requirement, at method and class level. */
@Controller('api/reports')
class ReportsController {
  @Get('sales')
  @RequirePermission('orders.view')
  sales(): { ok: true } {
    return { ok: true };
  }

  @Get('open')
  @Public()
  open(): { ok: true } {
    return { ok: true };
  }

  @Get('mine')
  @ApiOperation({ summary: 'No operationId: Swagger names it ReportsController_mine' })
  mine(): { ok: true } {
    return { ok: true }; // no decorator: the guard's default, a signed-in caller
  }
}

@Public()
@Controller('api/status')
class StatusController {
  @Get()
  status(): { ok: true } {
    return { ok: true };
  }

  @Get('private')
  @Authenticated()
  @ApiOperation({ operationId: 'status.private', summary: 'Overrides the public controller' })
  private(): { ok: true } {
    return { ok: true };
  }
}

@Module({ controllers: [ReportsController, StatusController] })
class ReportsModule {}

function withReports(config: LoadedConfig): DynamicModule {
  const root = AppModule.forRoot(config);
  return { ...root, imports: [...(root.imports ?? []), ReportsModule] };
}

type Response = { $ref?: string; content?: Record<string, { schema?: { $ref?: string } }> };
type Operation = { security?: Record<string, string[]>[]; responses: Record<string, Response> };

describe('OpenAPI security of hand-written routes', () => {
  let t: TestApp;
  let paths: Record<string, { get: Operation }>;
  let shared: Record<string, Response>;

  beforeAll(async () => {
    t = await createTestApp(withReports);
    const document = JSON.parse(JSON.stringify(buildOpenApiDocument(t.app))) as {
      paths: Record<string, { get: Operation }>;
      components: { responses: Record<string, Response> };
    };
    paths = document.paths;
    shared = document.components.responses;
  });
  afterAll(() => t.close());

  /** The problem schema a status answers with, through a shared `components.responses` entry if used. */
  const problemOf = (operation: Operation, status: string): string | undefined => {
    const response = operation.responses[status];
    const resolved = response?.$ref ? shared[response.$ref.replace('#/components/responses/', '')] : response;
    return resolved?.content?.['application/problem+json']?.schema?.$ref;
  };

  it('permission routes: either credential, 401 and 403 as problems', () => {
    const sales = paths['/api/reports/sales'].get;
    expect(sales.security).toEqual([{ bearer: [] }, { apiKey: [] }]);
    expect(problemOf(sales, '401')).toBe('#/components/schemas/Problem');
    expect(problemOf(sales, '403')).toBe('#/components/schemas/Problem');
  });

  it('signed-in routes (explicit or by default): either credential and 401, no 403', () => {
    for (const path of ['/api/reports/mine', '/api/status/private']) {
      const operation = paths[path].get;
      expect(operation.security).toEqual([{ bearer: [] }, { apiKey: [] }]);
      expect(problemOf(operation, '401')).toBe('#/components/schemas/Problem');
      expect(operation.responses).not.toHaveProperty('403');
    }
  });

  it('public routes (method or class level): no credential wanted, 401 only for a bad one sent', () => {
    for (const path of ['/api/reports/open', '/api/status']) {
      // `security: []` overrides the document's global requirement: Swagger UI sends no token.
      expect(paths[path].get.security).toEqual([]);
      expect(problemOf(paths[path].get, '401')).toBe('#/components/schemas/Problem');
      expect(paths[path].get.responses).not.toHaveProperty('403');
    }
  });

  it('matches what the guard enforces', async () => {
    const viewer = await createTestUser(t.app, { permissions: ['orders.view'] });
    const nobody = await createTestUser(t.app);
    const status = async (url: string, headers: object = {}): Promise<number> =>
      (await t.inject({ url, headers: { ...headers } })).statusCode;
    expect(await status('/api/reports/sales')).toBe(401);
    expect(await status('/api/reports/sales', nobody.headers)).toBe(403);
    expect(await status('/api/reports/sales', viewer.headers)).toBe(200);
    expect(await status('/api/reports/mine')).toBe(401);
    expect(await status('/api/reports/mine', nobody.headers)).toBe(200);
    expect(await status('/api/status/private')).toBe(401);
    expect(await status('/api/reports/open')).toBe(200);
    expect(await status('/api/status')).toBe(200);
    expect(await status('/api/status', { authorization: 'Bearer not-a-token' })).toBe(401);
  });
});
