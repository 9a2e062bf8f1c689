import { createServer, type Server, type Socket, connect } from 'node:net';

/** One proxied connection: the app's end and PostgreSQL's end. */
interface Link {
  client: Socket;
  upstream?: Socket;
  /** No byte passes, and neither end hears of the other closing. */
  frozen: boolean;
}

/**
 * A TCP hop between the app and PostgreSQL, so a test can make the database
 * unreachable and bring it back without touching the (shared) server itself:
 * `stop()` closes every connection and refuses new ones; `freeze()` makes the path
 * silent while every socket stays open.
 */
export class TcpProxy {
  private server?: Server;
  private readonly links = new Set<Link>();
  /** New connections are accepted and go nowhere. */
  private blackHole = false;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  static forUrl(url: string): TcpProxy {
    const parsed = new URL(url);
    return new TcpProxy(parsed.hostname, Number(parsed.port || 5432));
  }

  /** The same URL, routed through the proxy. */
  route(url: string): string {
    const parsed = new URL(url);
    parsed.hostname = '127.0.0.1';
    parsed.port = String(this.port);
    return parsed.toString();
  }

  async start(): Promise<void> {
    this.server = createServer((client) => {
      const link: Link = { client, frozen: this.blackHole };
      this.links.add(link);
      client.on('error', () => client.destroy());
      client.on('close', () => {
        // A silent path tells PostgreSQL nothing: its end stays until the thaw.
        if (link.frozen) return;
        link.upstream?.destroy();
        this.links.delete(link);
      });
      // The kernel has accepted the connection already; in a black hole it goes nowhere.
      if (link.frozen) client.pause();
      else this.forward(link);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    const address = this.server.address();
    if (address && typeof address === 'object') this.port = address.port;
  }

  /** Cuts every open connection and refuses new ones. */
  async stop(): Promise<void> {
    this.blackHole = false;
    for (const link of this.links) this.close(link);
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }

  /**
   * The open connections go silent, as behind a NAT or load balancer that dropped
   * their flows: no byte passes in either direction and no socket closes. Only a peer
   * that expects an answer in time can notice. (This proxy's kernel still acknowledges
   * TCP keepalive probes, so keepalive alone cannot see it: an application-level
   * heartbeat must.) New connections are accepted but go nowhere (`black-hole`, a
   * dead path), or are forwarded (`forward`: the NAT lost the old flows' state, and
   * new flows get new mappings).
   */
  freeze({ newConnections = 'black-hole' }: { newConnections?: 'black-hole' | 'forward' } = {}): void {
    this.blackHole = newConnections === 'black-hole';
    for (const link of this.links) {
      link.frozen = true;
      link.client.unpipe();
      link.upstream?.unpipe();
      link.client.pause();
      link.upstream?.pause();
    }
  }

  /**
   * The path is back, but the connections that were frozen are dead: reset at once
   * (the app's end gets ECONNRESET, PostgreSQL's end is closed). That is what a
   * half-open socket meets when packets flow again: the NAT that lost its mapping,
   * or the server that failed over, answers RST to the old flow. Delivering the
   * buffered bytes instead would model a brief partition that TCP recovers from,
   * which hides the case the app must handle. New connections are forwarded.
   */
  thaw(): void {
    this.blackHole = false;
    for (const link of this.links) if (link.frozen) this.close(link, true);
  }

  private forward(link: Link): void {
    const { client } = link;
    const upstream = connect(this.targetPort, this.targetHost);
    link.upstream = upstream;
    upstream.on('error', () => upstream.destroy());
    upstream.on('close', () => {
      if (!link.frozen) client.destroy();
    });
    client.pipe(upstream).pipe(client);
  }

  private close(link: Link, reset = false): void {
    const { client, upstream } = link;
    this.links.delete(link);
    upstream?.destroy();
    if (reset && !client.destroyed) client.resetAndDestroy();
    else client.destroy();
  }
}
