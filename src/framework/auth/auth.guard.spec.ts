import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AUTH_REQUIREMENT } from 'src/framework/access/auth.decorators';
import type { ApiKeyService } from 'src/framework/auth/api-key.service';
import { NestorAuthGuard } from 'src/framework/auth/auth.guard';
import type { SessionService } from 'src/framework/auth/session.service';
import type { ResourceRegistry } from 'src/framework/resource/resource.registry';

describe('NestorAuthGuard', () => {
  const reflector = new Reflector();
  const sessions = { cookieName: 'nst_session' } as unknown as SessionService;
  const sut = new NestorAuthGuard(reflector, {} as ResourceRegistry, {} as ApiKeyService, sessions);

  class Open {
    read(): void {}
  }
  class Closed {
    read(): void {}
  }
  Reflect.defineMetadata(AUTH_REQUIREMENT, { kind: 'public' }, Open);
  const shared = Open.prototype.read;

  const context = (classRef: object, handler: object): ExecutionContext =>
    ({
      getType: () => 'http',
      getHandler: () => handler,
      getClass: () => classRef,
      switchToHttp: () => ({ getRequest: () => ({ headers: {}, cookies: {} }) }),
    }) as unknown as ExecutionContext;

  it('looks a route requirement up once per handler and class, and keeps classes apart', async () => {
    const lookup = jest.spyOn(reflector, 'getAllAndOverride');
    await expect(sut.canActivate(context(Open, shared))).resolves.toBe(true);
    await expect(sut.canActivate(context(Open, shared))).resolves.toBe(true);
    expect(lookup).toHaveBeenCalledTimes(1);
    // The same handler in a class without @Public(): default deny, not the other class's answer.
    await expect(sut.canActivate(context(Closed, shared))).rejects.toMatchObject({ status: 401 });
    expect(lookup).toHaveBeenCalledTimes(2);
  });
});
