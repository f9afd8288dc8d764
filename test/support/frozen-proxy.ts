import { Server, Socket, createServer, connect } from 'node:net';

/**
 * A TCP proxy in front of a server that can stop forwarding: while frozen, bytes in both directions are
 * held back (and new connections are accepted but get no answer), as when the server behind it is hung or
 * partitioned; thawed, everything held back is delivered. Lets a test hang a shared PostgreSQL server for
 * one pool only, without stopping the server itself. Cut, it drops every connection and refuses new ones
 * (a server gone, or unreachable from one process only) until restored on the same port.
 * Example: `const proxy = await FrozenProxy.start(5432); proxy.freeze(); … proxy.thaw(); await proxy.close()`.
 */
export class FrozenProxy {
  private frozen = false;
  private readonly pairs = new Set<{ flush: () => void; destroy: () => void }>();

  private readonly server: Server;
  private listening = 0;

  private constructor(targetPort: number, targetHost: string) {
    this.server = createServer((client) => this.relay(client, connect(targetPort, targetHost)));
  }

  /** The port the proxy listens on (loopback), cut or not. */
  get port(): number {
    return this.listening;
  }

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<FrozenProxy> {
    const proxy = new FrozenProxy(targetPort, targetHost);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    proxy.listening = (proxy.server.address() as { port: number }).port;
    return proxy;
  }

  /** Drops every connection and refuses new ones (connection refused) until `restore()`. */
  async cut(): Promise<void> {
    await this.close();
  }

  /** Accepts connections again, on the same port. */
  async restore(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(this.listening, '127.0.0.1', resolve));
  }

  freeze(): void {
    this.frozen = true;
  }

  thaw(): void {
    this.frozen = false;
    for (const pair of this.pairs) {
      pair.flush();
    }
  }

  async close(): Promise<void> {
    for (const pair of this.pairs) {
      pair.destroy();
    }
    await new Promise((resolve) => this.server.close(resolve));
  }

  private relay(client: Socket, upstream: Socket): void {
    const held: [Socket, Buffer][] = [];
    const forward = (to: Socket) => (chunk: Buffer) => {
      if (this.frozen) {
        held.push([to, chunk]);
      } else {
        to.write(chunk);
      }
    };
    const pair = {
      flush: () => held.splice(0).forEach(([to, chunk]) => to.write(chunk)),
      destroy: () => {
        client.destroy();
        upstream.destroy();
      },
    };
    this.pairs.add(pair);
    client.on('data', forward(upstream));
    upstream.on('data', forward(client));
    // Either side closing closes the other (a connection the hang guard destroyed ends its upstream too).
    for (const socket of [client, upstream]) {
      socket.on('error', () => undefined);
      socket.on('close', () => {
        pair.destroy();
        this.pairs.delete(pair);
      });
    }
  }
}
