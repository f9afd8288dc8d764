import type { Logger } from '@nestjs/common';
import mqemitter, { type MQEmitter, type Message } from 'mqemitter';
import { LivePresence, type PresenceTiming } from 'src/framework/graphql/live-presence';

const PREFIX = 'nestor/test';
const TOPIC = `${PREFIX}/products/created`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const noop = (_message: Message, done: () => void) => done();

/** Resolves once `check` holds (polled), or fails after `ms`. */
async function until(check: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) {
      throw new Error('not within the time');
    }
    await sleep(5);
  }
}

/** An emitter that delivers the presence topic's messages `delay` ms late (Infinity: never), as a slow Redis. */
function slowBus(delay: number): MQEmitter {
  const bus = mqemitter();
  const emit = bus.emit.bind(bus);
  bus.emit = (message, callback) => {
    if (!message.topic.endsWith('/_presence')) {
      return emit(message, callback);
    }
    callback?.();
    if (delay !== Infinity) {
      setTimeout(() => emit(message), delay);
    }
  };
  return bus;
}

/** Subscribes through the wrapped emitter as Mercurius does; resolves when `on` confirms. */
function subscribe(emitter: MQEmitter, topic = TOPIC, listener = noop): Promise<void> {
  return new Promise((resolve) => emitter.on(topic, listener, () => resolve()));
}

describe(LivePresence.name, () => {
  const timing: PresenceTiming = { interval: 60_000, wait: 150 };
  const made: LivePresence[] = [];
  let logger: { warn: jest.Mock };

  /** A process on the bus, past its boot (no longer counting every topic as live). */
  async function boot(bus: MQEmitter, options = timing): Promise<LivePresence> {
    const sut = new LivePresence(bus, PREFIX, logger as unknown as Logger, options);
    made.push(sut);
    await until(() => !sut.listened(`${PREFIX}/nobody/created`));
    return sut;
  }

  beforeEach(() => (logger = { warn: jest.fn() }));
  afterEach(() => made.splice(0).forEach((presence) => presence.close()));

  it('counts every topic as live while booting, then none without a subscriber', async () => {
    const sut = new LivePresence(mqemitter(), PREFIX, logger as unknown as Logger, timing);
    made.push(sut);
    expect(sut.listened(TOPIC)).toBe(true);
    await sleep(timing.wait / 2);
    expect(sut.listened(TOPIC)).toBe(true);
    await until(() => !sut.listened(TOPIC));
  });

  it('confirms a subscription once its announcement came back, when every process knows of it', async () => {
    const bus = slowBus(50);
    const [writer, reader] = [await boot(bus), await boot(bus)];
    const emitter = reader.wrap(bus);
    let confirmed = false;
    const subscribed = subscribe(emitter).then(() => (confirmed = true));
    await sleep(20);
    expect(confirmed).toBe(false);
    await subscribed;
    expect(writer.listened(TOPIC)).toBe(true);
    expect(reader.listened(TOPIC)).toBe(true);
    expect(writer.listened(`${PREFIX}/products/deleted`)).toBe(false);
    expect(logger.warn).not.toHaveBeenCalled();
  });

  it('starts a subscription after `wait` when the announcement does not come back, and says so', async () => {
    const bus = slowBus(Infinity);
    const sut = new LivePresence(bus, PREFIX, logger as unknown as Logger, timing);
    made.push(sut);
    const started = Date.now();
    await subscribe(sut.wrap(bus));
    expect(Date.now() - started).toBeGreaterThanOrEqual(timing.wait - 5);
    expect(logger.warn).toHaveBeenCalledWith(expect.stringContaining(`A subscription to ${TOPIC} starts`));
  });

  it('tells a process that boots later of the subscribers already there (its boot query)', async () => {
    const bus = mqemitter();
    const reader = await boot(bus);
    await subscribe(reader.wrap(bus));
    const late = await boot(bus);
    expect(late.listened(TOPIC)).toBe(true);
  });

  it('stops at once when the last subscriber leaves, not while another process still listens', async () => {
    const bus = mqemitter();
    const [writer, one, two] = [await boot(bus), await boot(bus), await boot(bus)];
    const [first, second] = [one.wrap(bus), two.wrap(bus)];
    await Promise.all([subscribe(first), subscribe(second), subscribe(second)]);
    first.removeListener(TOPIC, noop);
    second.removeListener(TOPIC, noop);
    expect(writer.listened(TOPIC)).toBe(true);
    second.removeListener(TOPIC, noop);
    expect(writer.listened(TOPIC)).toBe(false);
  });

  it('forgets a process that stopped announcing (crashed) three intervals after its last announcement', async () => {
    const fast = { interval: 50, wait: 150 };
    const bus = mqemitter();
    const [writer, reader] = [await boot(bus, fast), await boot(bus, fast)];
    await subscribe(reader.wrap(bus));
    await sleep(250); // five intervals: re-announced all along
    expect(writer.listened(TOPIC)).toBe(true);
    reader.close();
    await sleep(30);
    expect(writer.listened(TOPIC)).toBe(true);
    await sleep(160);
    expect(writer.listened(TOPIC)).toBe(false);
  });

  it('counts every topic as live while a wildcard subscription of its prefix is', async () => {
    const bus = mqemitter();
    const [writer, reader] = [await boot(bus), await boot(bus)];
    const emitter = reader.wrap(bus);
    await subscribe(emitter, 'chat/+');
    expect(writer.listened(TOPIC)).toBe(false);
    await subscribe(emitter, `${PREFIX}/+/created`);
    expect(writer.listened(`${PREFIX}/orders/deleted`)).toBe(true);
    emitter.removeListener(`${PREFIX}/+/created`, noop);
    expect(writer.listened(`${PREFIX}/orders/deleted`)).toBe(false);
  });

  it('delivers through the wrapped emitter as through the bus', async () => {
    const bus = mqemitter();
    const sut = await boot(bus);
    const emitter = sut.wrap(bus);
    const received: unknown[] = [];
    await subscribe(emitter, TOPIC, (message, done) => {
      received.push(message.payload);
      done();
    });
    await new Promise<void>((resolve) => emitter.emit({ topic: TOPIC, payload: 1 }, () => resolve()));
    expect(received).toEqual([1]);
  });

  it('asks again when its boot query could not be published, and says so once', async () => {
    const bus = mqemitter();
    const reader = await boot(bus);
    await subscribe(reader.wrap(bus));
    const emit = bus.emit.bind(bus);
    let refused = 2;
    const flaky = Object.create(bus) as MQEmitter;
    flaky.on = bus.on.bind(bus);
    flaky.emit = (message, callback) =>
      refused-- > 0 ? callback?.(new Error('connection is closed')) : emit(message, callback);
    const late = await boot(flaky);
    expect(late.listened(TOPIC)).toBe(true);
    expect(logger.warn).toHaveBeenCalledTimes(1);
  });

  it('counts everything as live while the bus is away, and learns afresh once back', async () => {
    const bus = mqemitter();
    const [writer, reader] = [await boot(bus), await boot(bus)];
    await subscribe(reader.wrap(bus));
    writer.blind();
    expect(writer.listened(`${PREFIX}/orders/deleted`)).toBe(true);
    writer.rejoin();
    await until(() => !writer.listened(`${PREFIX}/orders/deleted`));
    expect(writer.listened(TOPIC)).toBe(true);
  });
});
