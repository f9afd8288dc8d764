import type { Type } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { Principal } from 'src/framework/access/principal';

/** What an admin action method receives. Example: `archive({ ids, manager }: AdminActionContext)`. */
export interface AdminActionContext<I = undefined> {
  /** The selected records' ids, parsed as the primary key type. */
  ids: unknown[];
  /** The validated input form (an instance of the action's `input` class), or undefined. */
  input: I;
  /** The transaction the action runs in: its writes and the audit entries commit together. */
  manager: EntityManager;
  /** Who runs it (undefined when a job runs it for a user that no longer exists). */
  principal?: Principal;
}

/** How an admin action is offered. Example: `@AdminAction('archive', { confirm: 'Archive them?' })`. */
export interface AdminActionOptions {
  /** Button label (default: the name, capitalised). */
  label?: string;
  /**
   * The permission needed: `view|add|change|delete` of this resource (default `change`), or any codename
   * such as `orders.ship`.
   */
  permission?: string;
  /** Offered on the list's bulk selection (default true). */
  bulk?: boolean;
  /** A confirmation question shown before running. */
  confirm?: string;
  /** A class-validator class: the small form asked before running, validated on the server. */
  input?: Type<object>;
  /** Run as a background job (the admin gets 202 and follows the job); for long actions. */
  job?: boolean;
}

export interface AdminActionDeclaration {
  name: string;
  method: string;
  options: AdminActionOptions;
}

const ADMIN_ACTIONS = Symbol('nestor:admin-actions');

/**
 * Declares an admin action on a `@Resource` class: a method run on the selected ids inside one transaction
 * (with the class's injected services), after a permission check; every selected record gets an audit
 * entry. Return a short message for the admin.
 * Example:
 * `@AdminAction('archive', { confirm: 'Archive the selected products?' })
 *  async archive({ ids, manager }: AdminActionContext) { … return `${ids.length} archived`; }`
 */
export function AdminAction(name: string, options: AdminActionOptions = {}): MethodDecorator {
  return (target, propertyKey) => {
    const list =
      (Reflect.getOwnMetadata(ADMIN_ACTIONS, target.constructor) as AdminActionDeclaration[]) ?? [];
    Reflect.defineMetadata(
      ADMIN_ACTIONS,
      [...list, { name, method: String(propertyKey), options }],
      target.constructor,
    );
  };
}

/** The actions declared on a resource class. */
export function adminActionsOf(resourceClass: unknown): AdminActionDeclaration[] {
  return typeof resourceClass === 'function'
    ? ((Reflect.getOwnMetadata(ADMIN_ACTIONS, resourceClass) as AdminActionDeclaration[]) ?? [])
    : [];
}
