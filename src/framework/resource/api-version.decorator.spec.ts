import { CanActivate, Controller, Get, Injectable, Module, Post, Req, UseGuards } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication, RouteConfig } from '@nestjs/platform-fastify';
import type { FastifyRequest } from 'fastify';
import { ApiVersion, serveControllerVersions } from 'src/framework/resource/api-version.decorator';
import { sendVersionHeaders } from 'src/framework/resource/resource-versions';

const DEPRECATED = `@${Date.UTC(2026, 11, 1) / 1000}`;

@Injectable()
class Refuse implements CanActivate {
  canActivate(): boolean {
    return false;
  }
}

@ApiVersion({ 1: { deprecated: '2026-12-01', sunset: '2027-06-30' }, 2: {} })
@Controller('api/things')
class ThingsController {
  @Get(['', 'all'])
  @RouteConfig({ own: 'kept' })
  list(@Req() request: FastifyRequest): unknown {
    return { config: (request.routeOptions.config as { own?: string }).own };
  }

  @Post()
  @UseGuards(Refuse)
  create(): void {}

  @ApiVersion({ 2: {} })
  @Get('new')
  fresh(): void {}
}

@Controller('api/plain')
class PlainController {
  @Get()
  list(): string {
    return 'plain';
  }
}

@Module({ controllers: [ThingsController, PlainController] })
class ThingsModule {}

describe('@ApiVersion deprecation headers on hand-written routes', () => {
  let app: NestFastifyApplication;

  beforeAll(async () => {
    app = await NestFactory.create<NestFastifyApplication>(ThingsModule, new FastifyAdapter(), {
      logger: false,
    });
    sendVersionHeaders(app.getHttpAdapter().getInstance());
    serveControllerVersions(ThingsController, '1');
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(() => app.close());

  const inject = (method: 'GET' | 'HEAD' | 'POST', url: string) =>
    app.getHttpAdapter().getInstance().inject({ method, url });

  it('marks each path of a deprecated version with a Link to the same path in its successor', async () => {
    for (const [url, successor] of [
      ['/api/things', '/api/v2/things'],
      ['/api/v1/things', '/api/v2/things'],
      ['/api/v1/things/all', '/api/v2/things/all'],
      ['/api/things/all', '/api/v2/things/all'],
    ]) {
      for (const method of ['GET', 'HEAD'] as const) {
        const res = await inject(method, url);
        expect({ url, method, status: res.statusCode }).toEqual({ url, method, status: 200 });
        expect(res.headers).toMatchObject({
          deprecation: DEPRECATED,
          sunset: 'Wed, 30 Jun 2027 00:00:00 GMT',
          link: `<${successor}>; rel="successor-version"`,
        });
      }
    }
  });

  it('leaves current versions and other routes unmarked, and keeps their own route config', async () => {
    for (const url of ['/api/v2/things', '/api/v2/things/all', '/api/v2/things/new', '/api/plain']) {
      const res = await inject('GET', url);
      expect({ url, status: res.statusCode }).toEqual({ url, status: 200 });
      expect(res.headers.deprecation).toBeUndefined();
      expect(res.headers.link).toBeUndefined();
    }
    expect((await inject('GET', '/api/v1/things')).json()).toEqual({ config: 'kept' });
    expect((await inject('GET', '/api/v2/things')).json()).toEqual({ config: 'kept' });
  });

  it('marks an answer a guard refused too', async () => {
    const refused = await inject('POST', '/api/v1/things');
    expect(refused.statusCode).toBe(403);
    expect(refused.headers.deprecation).toBe(DEPRECATED);
    expect((await inject('POST', '/api/v2/things')).headers.deprecation).toBeUndefined();
  });
});
