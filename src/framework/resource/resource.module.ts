import {
  DynamicModule,
  Global,
  Inject,
  Module,
  ModuleMetadata,
  NestModule,
  Provider,
  Type,
} from '@nestjs/common';
import { DiscoveryModule, DiscoveryService } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { getMetadataArgsStorage } from 'typeorm';
import { MetricsModule } from 'src/framework/metrics/metrics.module';
import { ApiRootController } from 'src/framework/resource/api-root.controller';
import { ResourceCache } from 'src/framework/resource/resource-cache';
import { ResourceEvents } from 'src/framework/resource/resource-events';
import { createResourceController, serveVersions } from 'src/framework/resource/resource.controller';
import { ResourceDeclarationError } from 'src/framework/resource/resource-definition';
import {
  RESOURCE_ACTIONS,
  ResourceAction,
  defaultResourcePath,
  resourceDeclaration,
} from 'src/framework/resource/resource.decorator';
import { ResourceRegistry } from 'src/framework/resource/resource.registry';
import { ResourceService, bindService } from 'src/framework/resource/resource.service';

const SERVICE_TOKENS = new WeakMap<Type, symbol>();

/** The injection token of a resource's service. Example: `@Inject(resourceServiceToken(ProductResource))`. */
export function resourceServiceToken(resourceClass: Type): symbol {
  let token = SERVICE_TOKENS.get(resourceClass);
  if (!token) {
    token = Symbol(`${resourceClass.name}Service`);
    SERVICE_TOKENS.set(resourceClass, token);
  }
  return token;
}

/**
 * Injects the service of a resource (generated, or the one named in `service`) into custom routes.
 * Example: `constructor(@InjectResourceService(OrderResource) private readonly orders: OrderService) {}`.
 */
export function InjectResourceService(resourceClass: Type): ParameterDecorator & PropertyDecorator {
  return Inject(resourceServiceToken(resourceClass));
}

/** Whether the entity declares a @DeleteDateColumn (so restore is generated), known before TypeORM boots. */
function hasDeleteDateColumn(entity: Type): boolean {
  return getMetadataArgsStorage().columns.some(
    (c) =>
      c.mode === 'deleteDate' &&
      typeof c.target === 'function' &&
      (c.target === entity || entity.prototype instanceof c.target),
  );
}

/** The framework side: the registry that resolves and checks every resource at boot, and the cache (global). */
@Global()
@Module({
  imports: [DiscoveryModule, MetricsModule],
  controllers: [ApiRootController],
  providers: [ResourceRegistry, ResourceCache, ResourceEvents],
  exports: [ResourceRegistry, ResourceCache, ResourceEvents],
})
export class ResourceCoreModule implements NestModule {
  constructor(
    private readonly registry: ResourceRegistry,
    private readonly discovery: DiscoveryService,
  ) {}

  /**
   * Nest configures middleware before it registers routes and long before `onModuleInit`: checking the
   * declarations here makes a path clash fail with NST-R002, not Fastify's "Method 'GET' already declared",
   * and the API versions, known now, can still be given to the generated controllers as paths.
   */
  configure(): void {
    this.registry.resolveAll();
    for (const wrapper of this.discovery.getControllers()) {
      serveVersions(wrapper.metatype, this.registry);
    }
  }
}

/** What a feature's resource classes may inject beyond the framework's providers. */
export interface ResourceFeatureOptions {
  /** Modules whose exported providers the resource classes and services inject (e.g. a jobs module). */
  imports?: ModuleMetadata['imports'];
}

/**
 * Exposes `@Resource` classes as REST resources: their routes, services and entities.
 * Example: `@Module({ imports: [ResourceModule.forFeature([ProductResource, CategoryResource])] })`;
 * `ResourceModule.forFeature([OrderResource], { imports: [OrderJobsModule] })` lets `OrderResource` inject
 * what `OrderJobsModule` exports.
 */
@Module({})
export class ResourceModule {
  static forFeature(resources: Type[], feature: ResourceFeatureOptions = {}): DynamicModule {
    const providers: Provider[] = [];
    const controllers: Type[] = [];
    const entities: Type[] = [];
    for (const resourceClass of resources) {
      const declaration = resourceDeclaration(resourceClass);
      if (!declaration) {
        throw new Error(`NST-R009 ${resourceClass.name} is not decorated with @Resource`);
      }
      const { entity, options } = declaration;
      if (options.service && !(options.service.prototype instanceof ResourceService)) {
        throw new ResourceDeclarationError(
          'NST-R001',
          `${resourceClass.name}: option "service" is ${options.service.name}, which does not extend ResourceService (class ${options.service.name} extends ResourceService { … })`,
        );
      }
      const token = resourceServiceToken(resourceClass);
      const service = options.service ?? class extends ResourceService {};
      if (!options.service) {
        Object.defineProperty(service, 'name', { value: `${entity.name}Service` });
      }
      bindService(service, resourceClass);
      const softDelete = options.softDelete ?? hasDeleteDateColumn(entity);
      const actions = new Set<ResourceAction>(
        options.actions ?? RESOURCE_ACTIONS.filter((a) => a !== 'restore' || softDelete),
      );
      providers.push(resourceClass, { provide: token, useClass: service });
      if (options.service) {
        providers.push({ provide: options.service, useExisting: token });
      }
      controllers.push(
        createResourceController(
          token,
          entity.name,
          options.path ?? defaultResourcePath(entity.name),
          actions,
        ),
      );
      entities.push(entity);
    }
    return {
      module: ResourceModule,
      imports: [TypeOrmModule.forFeature(entities), ...(feature.imports ?? [])],
      providers,
      controllers,
      exports: [
        TypeOrmModule,
        ...providers.map((p) => (typeof p === 'function' ? p : (p as { provide: unknown }).provide)),
      ] as never[],
    };
  }
}
