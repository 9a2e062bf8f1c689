import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

/*
 * A plain HTTP client that can speak from any loopback address (127.0.0.0/8 is all
 * local on Linux), so that one test process can be many "client addresses" for the
 * per-IP rate limits, and a steady mixed load of virtual users built on it.
 */

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

export interface SendOptions {
  method?: string;
  body?: unknown;
  /** A "name=value" cookie pair. */
  cookie?: string;
  bearer?: string;
  csrf?: string;
  /** The local (client) address, e.g. 127.0.3.7. */
  from?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** Keep-alive connections, pooled per local address (the agent keys its pools by it). */
const agent = new Agent({ keepAlive: true, maxSockets: 16 });

/** Closes the kept-alive connections (call it in afterAll). */
export function closeClients(): void {
  agent.destroy();
}

/** One request; rejects only when no HTTP answer came (refused, reset, timeout). */
export function send(baseUrl: string, path: string, options: SendOptions = {}): Promise<Reply> {
  const url = new URL(path, baseUrl);
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
  if (payload !== undefined) headers['Content-Type'] = 'application/json';
  if (options.cookie) headers.Cookie = options.cookie;
  if (options.bearer) headers.Authorization = `Bearer ${options.bearer}`;
  if (options.csrf) headers['X-CSRF-Token'] = options.csrf;
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: options.method ?? (payload === undefined ? 'GET' : 'POST'),
        headers,
        localAddress: options.from,
        agent,
        timeout: options.timeoutMs ?? 15_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('error', reject);
        res.on('end', () => {
          let body: Record<string, unknown>;
          try {
            body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
          } catch {
            body = { text };
          }
          resolve({ status: res.statusCode!, headers: res.headers, body });
        });
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', reject);
    req.end(payload);
  });
}

/** What a request that got no answer failed with (ECONNRESET, ECONNREFUSED, TIMEOUT ...). */
export function failureOf(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  return code ?? message ?? String(error);
}

/** The "name=value" part of the first Set-Cookie header. */
export function cookieOf(reply: Reply): string {
  const header = reply.headers['set-cookie']?.[0];
  if (!header) throw new Error(`no Set-Cookie in a ${reply.status} answer`);
  return header.split(';')[0];
}

let addressCounter = 0;
/**
 * A loopback address no other caller in this process got: a fresh per-IP budget on
 * every rate-limited route (127.1.0.1, 127.1.0.2, ...).
 */
export function freshAddress(): string {
  const n = ++addressCounter;
  return `127.1.${Math.floor(n / 250)}.${(n % 250) + 1}`;
}

export type Operation = 'cookie-login' | 'token-login' | 'me-cookie' | 'me-bearer' | 'refresh';

/** One request of the load: its status, or the error of a request that got no answer. */
export interface Outcome {
  vu: number;
  op: Operation;
  /** When it was sent and when it was over (ms since the epoch). */
  sentAt: number;
  doneAt: number;
  status?: number;
  error?: string;
}

export interface CookieSignIn {
  kind: 'cookie';
  vu: number;
  email: string;
  cookie: string;
  csrfToken: string;
  at: number;
}

export interface TokenSignIn {
  kind: 'token';
  vu: number;
  email: string;
  accessToken: string;
  /** The latest refresh token the client holds for this login. */
  refreshToken: string;
  at: number;
  refreshedAt: number;
  refreshes: number;
  /**
   * A refresh that got no answer, or 502/503/504 from the balancer: the instance may
   * have rotated the token before the answer was lost, so the client cannot know
   * which refresh token is current. The client gives this login up.
   */
  inDoubt?: Outcome;
}

export type SignIn = CookieSignIn | TokenSignIn;

export interface MixedLoadOptions {
  baseUrl: string;
  /** One account per virtual user. */
  users: { email: string; password: string }[];
  /** Pause between two rounds of a virtual user. */
  thinkMs?: number;
  /** Each virtual user signs in again (cookie and token, in turn) this often. */
  signInEveryMs?: number;
  /** And refreshes its current token login this often. */
  refreshEveryMs?: number;
}

/** A balancer's answers that mean "the request may or may not have reached an instance". */
export const GATEWAY_ERRORS = [502, 503, 504];

/**
 * Steady mixed load: one virtual user per account, each from a loopback address of
 * its own (a fresh per-IP budget), signing in by cookie and by token, then looping
 * `/api/auth/me` by cookie and by bearer and refreshing, until `stop()`. Every
 * outcome is recorded, and every sign-in whose 200 the client received.
 */
export class MixedLoad {
  readonly outcomes: Outcome[] = [];
  readonly signIns: SignIn[] = [];
  private stopped = false;
  private readonly running: Promise<void>[];

  constructor(private readonly options: MixedLoadOptions) {
    this.running = options.users.map((user, vu) => this.virtualUser(vu, user, freshAddress()));
  }

  static start(options: MixedLoadOptions): MixedLoad {
    return new MixedLoad(options);
  }

  /** Lets every virtual user finish its current request, then resolves. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.running);
  }

  /** Outcomes other than a 2xx (gateway errors, network errors, and anything the service refused). */
  failures(): Outcome[] {
    return this.outcomes.filter((o) => o.status === undefined || o.status >= 300);
  }

  tokenSignIns(): TokenSignIn[] {
    return this.signIns.filter((s): s is TokenSignIn => s.kind === 'token');
  }

  cookieSignIns(): CookieSignIn[] {
    return this.signIns.filter((s): s is CookieSignIn => s.kind === 'cookie');
  }

  private async call(
    vu: number,
    op: Operation,
    path: string,
    options: SendOptions,
  ): Promise<Reply | undefined> {
    const sentAt = Date.now();
    try {
      const reply = await send(this.options.baseUrl, path, { timeoutMs: 10_000, ...options });
      this.outcomes.push({ vu, op, sentAt, doneAt: Date.now(), status: reply.status });
      return reply;
    } catch (error) {
      this.outcomes.push({ vu, op, sentAt, doneAt: Date.now(), error: failureOf(error) });
      return undefined;
    }
  }

  private async virtualUser(vu: number, user: { email: string; password: string }, from: string) {
    const { thinkMs = 40, signInEveryMs = 2500, refreshEveryMs = 800 } = this.options;
    const credentials = { email: user.email, password: user.password };
    let cookie: CookieSignIn | undefined;
    let token: TokenSignIn | undefined;
    // Staggered, so that the virtual users do not all sign in at the same moment.
    let nextCookieSignIn = Date.now() + ((vu * 397) % signInEveryMs);
    let nextTokenSignIn = nextCookieSignIn + signInEveryMs / 2;
    while (!this.stopped) {
      const now = Date.now();
      if (!cookie || now >= nextCookieSignIn) {
        const reply = await this.call(vu, 'cookie-login', '/api/auth/session', { from, body: credentials });
        if (reply?.status === 200) {
          cookie = {
            kind: 'cookie',
            vu,
            email: user.email,
            cookie: cookieOf(reply),
            csrfToken: reply.body.csrfToken as string,
            at: Date.now(),
          };
          this.signIns.push(cookie);
          nextCookieSignIn = Date.now() + signInEveryMs;
        } else nextCookieSignIn = Date.now() + 300;
      }
      if (!token || now >= nextTokenSignIn) {
        const reply = await this.call(vu, 'token-login', '/api/auth/token', { from, body: credentials });
        if (reply?.status === 200) {
          token = {
            kind: 'token',
            vu,
            email: user.email,
            accessToken: reply.body.accessToken as string,
            refreshToken: reply.body.refreshToken as string,
            at: Date.now(),
            refreshedAt: Date.now(),
            refreshes: 0,
          };
          this.signIns.push(token);
          nextTokenSignIn = Date.now() + signInEveryMs;
        } else nextTokenSignIn = Date.now() + 300;
      }
      if (cookie) await this.call(vu, 'me-cookie', '/api/auth/me', { from, cookie: cookie.cookie });
      if (token) await this.call(vu, 'me-bearer', '/api/auth/me', { from, bearer: token.accessToken });
      if (token && Date.now() - token.refreshedAt >= refreshEveryMs) {
        const held = token;
        const reply = await this.call(vu, 'refresh', '/api/auth/token/refresh', {
          from,
          body: { refreshToken: held.refreshToken },
        });
        if (reply?.status === 200) {
          held.accessToken = reply.body.accessToken as string;
          held.refreshToken = reply.body.refreshToken as string;
          held.refreshedAt = Date.now();
          held.refreshes++;
        } else if (!reply || GATEWAY_ERRORS.includes(reply.status)) {
          held.inDoubt = this.outcomes.at(-1);
          token = undefined;
        } else held.refreshedAt = Date.now();
      }
      await sleep(thinkMs);
    }
  }
}

/**
 * Every sign-in the client received a 200 for, checked through `baseUrl`: a cookie's
 * `/api/auth/me`, a token login's refresh with the latest refresh token it holds
 * (which rotates it: the sign-in stays usable). Logins whose refresh was in doubt are
 * left out (see TokenSignIn.inDoubt). Returns the checks that did not answer 200.
 */
export async function checkSignIns(
  baseUrl: string,
  signIns: SignIn[],
): Promise<{ checked: number; failed: { signIn: SignIn; status: number | string }[] }> {
  const failed: { signIn: SignIn; status: number | string }[] = [];
  let checked = 0;
  let from = freshAddress();
  for (const signIn of signIns) {
    if (signIn.kind === 'token' && signIn.inDoubt) continue;
    // The refresh group allows 20 per address per window.
    if (++checked % 15 === 0) from = freshAddress();
    const status = await (
      signIn.kind === 'cookie'
        ? send(baseUrl, '/api/auth/me', { from, cookie: signIn.cookie })
        : send(baseUrl, '/api/auth/token/refresh', { from, body: { refreshToken: signIn.refreshToken } })
    ).then(
      (reply) => {
        if (signIn.kind === 'token' && reply.status === 200) {
          signIn.accessToken = reply.body.accessToken as string;
          signIn.refreshToken = reply.body.refreshToken as string;
        }
        return reply.status;
      },
      (error: unknown) => failureOf(error),
    );
    if (status !== 200) failed.push({ signIn, status });
  }
  return { checked, failed };
}
