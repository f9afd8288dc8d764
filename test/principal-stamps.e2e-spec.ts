import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { loadPrincipal, type Principal } from 'src/framework/access/principal';
import { PrincipalCache } from 'src/framework/auth/principal-cache';
import { ECHO_TIMEOUT_MS } from 'src/framework/auth/principal-stamp-feed';
import type { NestorConfig } from 'src/framework/config/nestor-config';
import { RedisCacheStore } from 'src/framework/resource/cache-stores';
import { TEST_REDIS_URL, deleteRedisKeys } from 'test/support/redis';

// The database side is counted, not run: what is under test is when the cache reads it.
jest.mock('src/framework/access/principal', () => ({
  ...jest.requireActual<object>('src/framework/access/principal'),
  loadPrincipal: jest.fn(),
}));
const loads = jest.mocked(loadPrincipal);

/**
 * The principal stamp kept in memory from Redis pub/sub (PrincipalStampFeed): cached principals cost no
 * Redis round trip while subscribed, an invalidation in another process counts on the very next load, and
 * a lost subscription falls back to reading the stamp key until it is back.
 */
describe('PrincipalCache with the stamp kept from Redis pub/sub', () => {
  const prefix = `stamps-${process.pid}-${randomBytes(3).toString('hex')}`;
  const config = { redisUrl: TEST_REDIS_URL, jobsPrefix: prefix } as NestorConfig;
  const stampKey = `${prefix}:principals:v`;
  const channel = `${prefix}:principals`;
  const redis = new Redis(TEST_REDIS_URL);
  let a: PrincipalCache;
  let sut: PrincipalCache;

  beforeEach(async () => {
    loads.mockImplementation((_manager, userId) => Promise.resolve({ userId } as Principal));
    a = new PrincipalCache(config, { subscribers: [] } as unknown as DataSource);
    sut = new PrincipalCache(config, { subscribers: [] } as unknown as DataSource);
    await sut.load(1, 'f'); // opens the process's subscription
    await until(() => sut.subscribed, 'subscribed');
    loads.mockClear();
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await sut.onModuleDestroy();
    await a.onModuleDestroy();
  });
  afterAll(async () => {
    await deleteRedisKeys(TEST_REDIS_URL, prefix);
    redis.disconnect();
  });

  it('answers cached principals without a Redis command while subscribed', async () => {
    const current = jest.spyOn(RedisCacheStore.prototype, 'current');
    for (let i = 0; i < 5; i++) {
      expect(await sut.load(1, 'f')).toEqual({ userId: 1 });
    }
    expect(loads).toHaveBeenCalledTimes(1);
    expect(current).not.toHaveBeenCalled();
  });

  it("an invalidation in this process waits for its echo, and the other app's next load reloads", async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    await sut.load(1, 'f');
    const started = performance.now();
    await a.invalidate();
    const tookMs = performance.now() - started;
    await sut.load(1, 'f');
    expect(loads).toHaveBeenCalledTimes(2);
    expect(tookMs).toBeLessThan(ECHO_TIMEOUT_MS);
    expect(sut.subscribed).toBe(true);
    expect(warn).not.toHaveBeenCalled(); // no "No echo …: resubscribing"
    expect(await redis.get(stampKey)).toEqual(expect.any(String));
  });

  it('an invalidation in another process counts on the very next load here', async () => {
    await sut.load(1, 'f');
    await sut.load(1, 'f');
    expect(loads).toHaveBeenCalledTimes(1);
    // As PrincipalCache.invalidate there: stamp and message in one step, back once its own echo is heard.
    await runProcess(
      `
      const { Redis } = require('ioredis');
      const [url, key, channel] = process.argv.slice(1);
      const value = 'other-' + process.pid;
      const sub = new Redis(url);
      const pub = new Redis(url);
      sub.subscribe(channel).then(async () => {
        const echo = new Promise((resolve) => sub.on('message', (_c, v) => v === value && resolve()));
        await pub.multi().set(key, value).publish(channel, value).exec();
        await echo;
        process.stdout.write('done');
        sub.disconnect();
        pub.disconnect();
      });`,
      [TEST_REDIS_URL, stampKey, channel],
    );
    await sut.load(1, 'f');
    expect(loads).toHaveBeenCalledTimes(2);
  });

  it('reads the stamp key while the subscription is lost, and reloads once subscribed again', async () => {
    const current = jest.spyOn(RedisCacheStore.prototype, 'current');
    await sut.load(1, 'f');
    expect(loads).toHaveBeenCalledTimes(1);
    // The subscription comes back only when the test says so (ioredis reconnects within 50 ms).
    let resubscribe!: () => void;
    const gate = new Promise<void>((resolve) => (resubscribe = resolve));
    const subscribe = Redis.prototype.subscribe as (this: Redis, ...args: unknown[]) => Promise<unknown>;
    jest.spyOn(Redis.prototype, 'subscribe').mockImplementation(async function (
      this: Redis,
      ...args: unknown[]
    ) {
      await gate;
      return subscribe.apply(this, args);
    });
    await killSubscriber(redis, channel);
    await until(() => !sut.subscribed, 'unsubscribed');
    // A change whose message this process cannot hear now: only the stamp key tells.
    await redis.set(stampKey, `missed-${randomBytes(3).toString('hex')}`);
    await sut.load(1, 'f');
    expect(loads).toHaveBeenCalledTimes(2);
    await sut.load(1, 'f');
    expect(loads).toHaveBeenCalledTimes(2); // cached under the key's stamp meanwhile
    expect(current).toHaveBeenCalledTimes(2);

    resubscribe();
    await until(() => sut.subscribed, 'subscribed again');
    current.mockClear();
    await sut.load(1, 'f');
    await sut.load(1, 'f');
    expect(loads).toHaveBeenCalledTimes(3); // nothing cached before the resubscribe is trusted
    expect(current).not.toHaveBeenCalled();
  });

  it('without Redis every load reads the database', async () => {
    const direct = new PrincipalCache(
      { jobsPrefix: prefix } as NestorConfig,
      { subscribers: [] } as unknown as DataSource,
    );
    await direct.load(1, 'f');
    await direct.load(1, 'f');
    expect(loads).toHaveBeenCalledTimes(2);
    expect(direct.subscribed).toBe(false);
    await direct.onModuleDestroy();
  });
});

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`Not ${what} within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Runs `script` in another Node process and resolves once it has written "done" (then exited 0). */
function runProcess(script: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let done = false;
    child.stdout.on('data', (chunk: Buffer) => {
      if (!done && chunk.toString().includes('done')) {
        done = true;
        resolve();
      }
    });
    child.on('exit', (code) => (code === 0 && done ? undefined : reject(new Error(`exited ${code}`))));
  });
}

/** Closes this process's subscriber connection from the server's side, as a Redis restart would. */
async function killSubscriber(redis: Redis, name: string): Promise<void> {
  const list = (await redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
  const ids = list
    .split('\n')
    .filter((line) => line.includes(` name=${name} `))
    .map((line) => /\bid=(\d+)/.exec(line)![1]);
  expect(ids).toHaveLength(1);
  await redis.call('CLIENT', 'KILL', 'ID', ids[0]);
}
