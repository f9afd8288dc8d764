import { Injectable, Logger, OnModuleInit, Optional, Type } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { NestorConfig } from 'src/framework/config/nestor-config';
import {
  ResourceDeclarationError,
  ResourceDefinition,
  resolveResource,
} from 'src/framework/resource/resource-definition';
import { ResourceHooks, resourceDeclaration } from 'src/framework/resource/resource.decorator';
import { serveControllerVersions } from 'src/framework/resource/api-version.decorator';
import { ApiVersions } from 'src/framework/resource/resource-versions';

/**
 * Collects every `@Resource` provider at boot, resolves it against TypeORM's metadata and checks the
 * declarations as a whole (unique paths and entities). A bad declaration stops the boot with its code.
 */
/** `before-insert` → `@BeforeInsert`. */
function listenerDecorator(type: string): string {
  return `@${type.replace(/(^|-)([a-z])/g, (_, __, letter: string) => letter.toUpperCase())}`;
}

@Injectable()
export class ResourceRegistry implements OnModuleInit {
  private readonly logger = new Logger('Resources');
  private readonly byClass = new Map<unknown, ResourceDefinition>();
  private readonly byEntity = new Map<unknown, ResourceDefinition>();
  /** Looked up by the auth guard on every resource request. */
  private readonly byPathMap = new Map<string, ResourceDefinition>();
  private resolved = false;
  private apiVersions?: ApiVersions;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly dataSource: DataSource,
    @Optional() private readonly config?: NestorConfig,
  ) {}

  /**
   * Resolves and checks every resource once. `ResourceCoreModule.configure` calls it before the HTTP routes
   * are registered (else Fastify's duplicate-route error would hide NST-R002); app contexts without HTTP
   * get it from `onModuleInit`.
   */
  resolveAll(): void {
    if (this.resolved) {
      return;
    }
    this.resolved = true;
    const byPath = this.byPathMap;
    for (const wrapper of this.discovery.getProviders()) {
      const declaration = resourceDeclaration(wrapper.metatype);
      if (!declaration || this.byClass.has(wrapper.metatype)) {
        continue;
      }
      const className = (wrapper.metatype as Type).name;
      if (!this.dataSource.hasMetadata(declaration.entity)) {
        throw new ResourceDeclarationError(
          'NST-R005',
          `${className}: ${declaration.entity.name} is not a TypeORM entity of this data source (is it decorated with @Entity?)`,
        );
      }
      const definition = resolveResource(
        className,
        declaration,
        this.dataSource.getMetadata(declaration.entity),
        wrapper.instance as ResourceHooks,
      );
      const samePath = byPath.get(definition.path);
      if (samePath) {
        throw new ResourceDeclarationError(
          'NST-R002',
          `${className}: path "/api/${definition.path}" is already used by ${samePath.className}`,
        );
      }
      const sameEntity = this.byEntity.get(declaration.entity);
      if (sameEntity) {
        throw new ResourceDeclarationError(
          'NST-R008',
          `${className}: ${definition.name} is already exposed by ${sameEntity.className}`,
        );
      }
      byPath.set(definition.path, definition);
      this.byClass.set(wrapper.metatype, definition);
      this.byEntity.set(declaration.entity, definition);
    }
    for (const definition of this.byClass.values()) {
      this.checkRelatedFields(definition);
      this.warnOfEntityListeners(definition);
    }
    this.resolveVersions();
  }

  /**
   * Entity listener methods (`@BeforeInsert`, `@AfterLoad`, …) run only on entity instances, in TypeORM's
   * `save`/`remove`/`find`. Generated routes write through the query builder with plain values and read with
   * SQL, as `repository.insert`/`update` do, so they never call them: said once at boot, with where the logic
   * belongs instead, rather than left to be found in the data.
   */
  private warnOfEntityListeners(definition: ResourceDefinition): void {
    const listeners = definition.metadata.listeners;
    if (listeners.length === 0) {
      return;
    }
    const names = listeners.map(
      (listener) => `${listenerDecorator(listener.type)} ${listener.propertyName}()`,
    );
    this.logger.warn(
      `NST-R017 ${definition.className}: ${definition.name}'s entity listeners (${names.join(', ')}) do not run ` +
        `on its generated routes, which write with TypeORM's query builder and read with SQL (as ` +
        `repository.insert and update do). Move that logic to the resource's hooks (beforeCreate, ` +
        `beforeUpdate, …) or to an EntitySubscriber, which both run there.`,
    );
  }

  /** Serves the controllers' declared versions and checks every resource's deprecations against them. */
  private resolveVersions(): void {
    const defaultVersion = this.config?.apiDefaultVersion ?? '1';
    const routes = this.discovery
      .getControllers()
      .flatMap((wrapper) =>
        wrapper.metatype ? serveControllerVersions(wrapper.metatype as Type, defaultVersion) : [],
      );
    this.apiVersions = new ApiVersions(
      this.all(),
      defaultVersion,
      (target) => this.forEntity(target),
      routes,
    );
    for (const definition of this.byClass.values()) {
      this.checkSuccessors(definition, this.apiVersions);
    }
  }

  /** A deprecated version points its clients at the next one, so one must exist. */
  private checkSuccessors(definition: ResourceDefinition, versions: ApiVersions): void {
    for (const [version, spec] of definition.versions) {
      if (spec.deprecated && !versions.successor(version)) {
        throw new ResourceDeclarationError(
          'NST-R012',
          `${definition.className}: option "versions.${version}.deprecated": no newer version to move to (versions served: ${versions.all.join(', ')})`,
        );
      }
    }
  }

  /** The API versions served and how each resource looks in each (after boot). */
  get versions(): ApiVersions {
    this.resolveAll();
    return this.apiVersions!;
  }

  /**
   * A path through a relation (`filter['author.passwordHash']`) must not reach a field the related
   * resource hides: filters and searches would leak it one comparison at a time.
   */
  private checkRelatedFields(definition: ResourceDefinition): void {
    for (const [path, resolved] of definition.paths) {
      const last = resolved.relations[resolved.relations.length - 1];
      const target = last && this.byEntity.get(last.inverseEntityMetadata.target);
      const name = path.slice(path.lastIndexOf('.') + 1);
      const field = target?.fields.get(name);
      if (target && field && !field.readable) {
        throw new ResourceDeclarationError(
          'NST-R001',
          `${definition.className}: "${path}" reaches ${name}, which ${target.className} hides (hidden or write-only)`,
        );
      }
    }
  }

  onModuleInit(): void {
    this.resolveAll();
  }

  /** The definition of a `@Resource` class. Example: `registry.get(ProductResource).path`. */
  get(resourceClass: unknown): ResourceDefinition {
    const definition = this.byClass.get(resourceClass);
    if (!definition) {
      throw new Error(`${String((resourceClass as Type).name)} is not a registered resource`);
    }
    return definition;
  }

  /** The resource served at `/api/<path>`. */
  byPath(path: string): ResourceDefinition {
    const definition = this.byPathMap.get(path);
    if (!definition) {
      throw new Error(`no resource at /api/${path}`);
    }
    return definition;
  }

  /** The resource exposing an entity, if any (included relations serialise like their own resource). */
  forEntity(target: unknown): ResourceDefinition | undefined {
    return this.byEntity.get(target);
  }

  /** The `@Resource` class a definition was resolved from. Example: `resourceServiceToken(registry.classOf(d))`. */
  classOf(definition: ResourceDefinition): Type {
    for (const [resourceClass, candidate] of this.byClass) {
      if (candidate === definition) {
        return resourceClass as Type;
      }
    }
    throw new Error(`${definition.className} is not a registered resource`);
  }

  all(): ResourceDefinition[] {
    return [...this.byClass.values()];
  }
}
