import type { LoggerService } from '@nestjs/common';
import { NestorLogger } from 'src/framework/logging/nestor-logger';

describe('NestorLogger', () => {
  const calls: [string, unknown[]][] = [];
  const record =
    (level: string) =>
    (...args: unknown[]): void => {
      calls.push([level, args]);
    };
  const inner: LoggerService = {
    log: record('log'),
    error: record('error'),
    warn: record('warn'),
    debug: record('debug'),
    verbose: record('verbose'),
  };
  const sut = new NestorLogger(inner);
  beforeEach(() => (calls.length = 0));

  it("logs Nest's per-module and per-route lines at debug", () => {
    sut.log('AppModule dependencies initialized', 'InstanceLoader');
    sut.log('Mapped {/api, GET} route', 'RouterExplorer');
    sut.log('ProductController {/api/products}:', 'RoutesResolver');
    expect(calls.map(([level]) => level)).toEqual(['debug', 'debug', 'debug']);
    expect(calls[1][1]).toEqual(['Mapped {/api, GET} route', 'RouterExplorer']);
  });

  it('passes every other line on at its own level', () => {
    sut.log('Job started', 'Jobs');
    sut.log('no context');
    sut.warn('careful', 'Jobs');
    sut.error('broken', 'stack', 'Jobs');
    sut.fatal('down');
    expect(calls).toEqual([
      ['log', ['Job started', 'Jobs']],
      ['log', ['no context']],
      ['warn', ['careful', 'Jobs']],
      ['error', ['broken', 'stack', 'Jobs']],
      ['error', ['down']],
    ]);
  });
});
