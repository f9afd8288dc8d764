import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  DataSource,
  EntityManager,
  EntitySubscriberInterface,
  TransactionCommitEvent,
  TransactionRollbackEvent,
} from 'typeorm';
import { AfterCommitQueue } from 'src/framework/database/after-commit';
import { STATEMENT_SAFE } from 'src/framework/database/statement-safe';

/**
 * What happened. Failures and refusals are logged at `warn`, everything else at `info`:
 * - `login.succeeded|failed|locked|refused` (refused: right password, but not staff for the admin, or a
 *   breached password that must be replaced), `2fa-disable.failed|locked`, `2fa-recovery-codes.failed|locked` (a wrong code when turning 2FA off or replacing the recovery codes)
 * - `password.changed|reset|set`, `2fa.enabled|disabled|recovery-codes-replaced|recovery-code-used|code-reused`
 * - `identity.linked|unlinked` (an OAuth / OpenID Connect account linked at sign-in, or unlinked by its user;
 *   `login.*` events of OAuth sign-ins carry `via: 'oauth'` and the provider)
 * - `api-key.created|revoked`, `session.ended` (a user ended one of their sessions), `grants.changed` (a user's permissions, groups, staff, superuser or active
 *   flag; a group's permissions), `access.denied` (any 403 answer), `credential.rejected` (a 401 to a
 *   request that sent a bearer token or API key)
 */
export type SecurityEventName =
  | 'login.succeeded'
  | 'login.failed'
  | 'login.locked'
  | 'login.refused'
  | '2fa-disable.failed'
  | '2fa-disable.locked'
  | '2fa-disable.refused'
  | '2fa-recovery-codes.failed'
  | '2fa-recovery-codes.locked'
  | '2fa-recovery-codes.refused'
  | 'password.changed'
  | 'password.reset'
  | 'password.set'
  | '2fa.enabled'
  | '2fa.disabled'
  | '2fa.recovery-codes-replaced'
  | '2fa.recovery-code-used'
  | '2fa.code-reused'
  | 'api-key.created'
  | 'api-key.revoked'
  | 'identity.linked'
  | 'identity.unlinked'
  | 'session.ended'
  | 'grants.changed'
  | 'access.denied'
  | 'credential.rejected';

/** The facts of an event: ids, names, codes. Never a password, token, code, key or secret. */
export type SecurityEventFields = Record<
  string,
  string | number | boolean | null | readonly (string | number)[]
>;

/** One structured line of the `security` log. */
export interface SecurityEvent extends SecurityEventFields {
  event: SecurityEventName;
  /** ISO 8601, UTC. */
  at: string;
}

const WARN_SUFFIXES = ['.failed', '.locked', '.refused', '.code-reused', '.denied'];
const PENDING = 'nestor:pending-security-events';

/**
 * The security audit trail (ASVS V7): one JSON log line per security-relevant event under the logger
 * context `security` (route them to your SIEM by that field), with the request's id and client address.
 * Listeners get every event too (tests, alerting). Events of a database write are logged after its commit.
 * Example: `events.record('api-key.created', { userId, keyId }, request)`.
 */
@Injectable()
export class SecurityEvents implements EntitySubscriberInterface, OnModuleInit, OnModuleDestroy {
  /** Logs only what a transaction queued: a one-statement write queues nothing. */
  readonly [STATEMENT_SAFE] = true;

  private readonly logger = new Logger('security');
  private readonly listeners = new Set<(event: SecurityEvent) => void>();
  /** Events of a transaction's writes, logged once it commits. */
  private readonly pending = new AfterCommitQueue<() => void>(PENDING);

  constructor(private readonly dataSource: DataSource) {}

  onModuleInit(): void {
    this.dataSource.subscribers.push(this);
  }

  onModuleDestroy(): void {
    const index = this.dataSource.subscribers.indexOf(this);
    if (index >= 0) {
      this.dataSource.subscribers.splice(index, 1);
    }
  }

  /** Logs an event now; `request` adds its id and client address. */
  record(event: SecurityEventName, fields: SecurityEventFields = {}, request?: FastifyRequest): void {
    const line: SecurityEvent = {
      event,
      at: new Date().toISOString(),
      ...(request ? { requestId: request.id, ip: request.ip } : {}),
      ...fields,
    };
    if (WARN_SUFFIXES.some((suffix) => event.endsWith(suffix))) {
      this.logger.warn(line);
    } else {
      this.logger.log(line);
    }
    for (const listener of this.listeners) {
      listener(line);
    }
  }

  /** Logs the event once `manager`'s transaction commits (never when it rolls back); now without one. */
  recordAfterCommit(
    manager: Pick<EntityManager, 'queryRunner'> | undefined,
    event: SecurityEventName,
    fields: SecurityEventFields = {},
    request?: FastifyRequest,
  ): void {
    const queryRunner = manager?.queryRunner;
    if (!queryRunner?.isTransactionActive) {
      this.record(event, fields, request);
      return;
    }
    this.pending.add(queryRunner, [() => this.record(event, fields, request)]);
  }

  /**
   * Logs every 403 answer as `access.denied` and every 401 to a request that sent a bearer credential as
   * `credential.rejected`, whatever refused it (guard, CSRF check, grant rules, handler).
   * Example: `app.get(SecurityEvents).watchResponses(fastify)` (createNestorApp does).
   */
  watchResponses(fastify: FastifyInstance): void {
    fastify.addHook('onResponse', (request, reply, done) => {
      const status = reply.statusCode;
      if (status === 403 || (status === 401 && request.headers.authorization !== undefined)) {
        const principal = (request as FastifyRequest & { principal?: { userId: number } }).principal;
        this.record(
          status === 403 ? 'access.denied' : 'credential.rejected',
          {
            method: request.method,
            route: request.routeOptions.url ?? null,
            status,
            userId: principal?.userId ?? null,
          },
          request,
        );
      }
      done();
    });
  }

  /** Calls `listener` with every event until the returned function is called. */
  subscribe(listener: (event: SecurityEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Logs what the transaction queued once the outermost one commits (not at a savepoint's release). */
  afterTransactionCommit(event: TransactionCommitEvent): void {
    this.pending.committed(event.queryRunner)?.forEach((log) => log());
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    this.pending.rolledBack(event.queryRunner);
  }
}
