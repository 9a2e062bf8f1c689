import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../src/database/embedded-postgres';

/** The configuration the project ships; the tests run it with only `bind` and `server` replaced. */
export const SHIPPED_CONFIG = join(__dirname, '../../deploy/haproxy.cfg');

/** Debian's package puts haproxy in /usr/sbin, which a non-root PATH may lack. */
function haproxyCommand(): string | undefined {
  return ['haproxy', '/usr/sbin/haproxy'].find((command) => {
    try {
      execFileSync(command, ['-v'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
}

/** Why the balancer suites are skipped on this machine; undefined when they run. */
export function haproxySkipReason(): string | undefined {
  return haproxyCommand() ? undefined : 'skipped: no haproxy (apt-get install -y haproxy)';
}

export interface Backend {
  name: string;
  port: number;
}

/** One request as haproxy's `option httplog` line tells it. */
export interface LoggedRequest {
  /** When the line arrived (haproxy logs a request once it is over). */
  at: number;
  client: string;
  server: string;
  status: number;
  method: string;
  path: string;
  /** Connection retries; `redispatched` when one of them went to another server. */
  retries: number;
  redispatched: boolean;
  /** The four-letter termination state, `----` for a normal end. */
  termination: string;
  line: string;
}

export interface StateChange {
  at: number;
  server: string;
  state: 'UP' | 'DOWN';
  line: string;
}

/** The health-check timing of the shipped file's `default-server` line, in ms and counts. */
export interface CheckTiming {
  interMs: number;
  fall: number;
  rise: number;
}

export function checkTiming(config = readFileSync(SHIPPED_CONFIG, 'utf8')): CheckTiming {
  const line = config.split('\n').find((text) => /^\s*default-server\s/.test(text));
  const inter = line && /\sinter\s+(\d+)(ms|s)\b/.exec(line);
  const fall = line && /\sfall\s+(\d+)/.exec(line);
  const rise = line && /\srise\s+(\d+)/.exec(line);
  if (!inter || !fall || !rise)
    throw new Error(`no "default-server ... inter .. fall .. rise .." line in the config`);
  return {
    interMs: Number(inter[1]) * (inter[2] === 's' ? 1000 : 1),
    fall: Number(fall[1]),
    rise: Number(rise[1]),
  };
}

/**
 * The shipped file for a test: every `bind` line becomes one loopback bind on `port`,
 * every `server` line becomes the given backends (at the place of the first). Nothing
 * else changes; a file without either kind of line is an error.
 */
export function configForTest(config: string, port: number, backends: Backend[]): string {
  const out: string[] = [];
  let binds = 0;
  let servers = 0;
  for (const line of config.split('\n')) {
    const indent = /^\s*/.exec(line)![0];
    if (/^\s*bind\s/.test(line)) {
      if (binds++ === 0) out.push(`${indent}bind 127.0.0.1:${port}`);
    } else if (/^\s*server\s/.test(line)) {
      if (servers++ === 0)
        for (const backend of backends) out.push(`${indent}server ${backend.name} 127.0.0.1:${backend.port}`);
    } else out.push(line);
  }
  if (!binds || !servers) throw new Error('the haproxy config has no bind or no server line');
  return out.join('\n');
}

const REQUEST_LINE =
  /^(\S+):\d+ \[[^\]]+\] \S+ \S+\/(\S+) \S+ (-?\d+) \S+ \S+ \S+ (\S{4}) \d+\/\d+\/\d+\/\d+\/(\+?)(\d+) \S+ "(\S+) (\S+)/;
const STATE_LINE = /Server \S+\/(\S+) is (UP|DOWN)\b/;

/** haproxy in the foreground (`-db`) on the shipped configuration, with its log on stdout. */
export class Haproxy {
  private readonly lines: { at: number; text: string }[] = [];
  private readonly exited: Promise<void>;

  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly child: ChildProcess,
  ) {
    let pending = '';
    const collect = (chunk: Buffer) => {
      const at = Date.now();
      pending += chunk.toString();
      const parts = pending.split('\n');
      pending = parts.pop()!;
      for (const text of parts) this.lines.push({ at, text });
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  static async start(backends: Backend[], configFile = SHIPPED_CONFIG): Promise<Haproxy> {
    const command = haproxyCommand();
    if (!command) throw new Error(haproxySkipReason());
    const port = await freePort();
    const dir = await mkdtemp(join(tmpdir(), 'auth-test-haproxy-'));
    const file = join(dir, 'haproxy.cfg');
    await writeFile(file, configForTest(readFileSync(configFile, 'utf8'), port, backends));
    const child = spawn(command, ['-f', file, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const haproxy = new Haproxy(port, dir, child);
    for (let waited = 0; ; waited += 50) {
      if (child.exitCode !== null)
        throw new Error(`haproxy exited with ${child.exitCode}:\n${haproxy.output()}`);
      if (await accepts(port)) return haproxy;
      if (waited > 10_000) throw new Error(`haproxy did not listen within 10 s:\n${haproxy.output()}`);
      await sleep(50);
    }
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  output(): string {
    return this.lines.map((line) => line.text).join('\n');
  }

  /** Every request haproxy has logged so far. */
  requests(): LoggedRequest[] {
    const requests: LoggedRequest[] = [];
    for (const { at, text } of this.lines) {
      const match = REQUEST_LINE.exec(text);
      if (!match) continue;
      const [, client, server, status, termination, plus, retries, method, path] = match;
      requests.push({
        at,
        client,
        server,
        status: Number(status),
        method,
        path,
        retries: Number(retries),
        redispatched: plus === '+',
        termination,
        line: text,
      });
    }
    return requests;
  }

  /** Servers marked up or down by the health checks (haproxy says it on stdout and stderr: the first). */
  stateChanges(): StateChange[] {
    const changes: StateChange[] = [];
    for (const { at, text } of this.lines) {
      const match = STATE_LINE.exec(text);
      if (!match) continue;
      const change = { at, server: match[1], state: match[2] as 'UP' | 'DOWN', line: text };
      const last = changes.findLast((seen) => seen.server === change.server);
      if (last?.state !== change.state) changes.push(change);
    }
    return changes;
  }

  /** The first time since `since` that haproxy marked `server` as `state`. */
  async untilState(
    server: string,
    state: 'UP' | 'DOWN',
    since: number,
    timeoutMs: number,
  ): Promise<StateChange> {
    for (const deadline = Date.now() + timeoutMs; ;) {
      const change = this.stateChanges().find(
        (seen) => seen.server === server && seen.state === state && seen.at >= since,
      );
      if (change) return change;
      if (Date.now() > deadline)
        throw new Error(`haproxy did not mark ${server} ${state} within ${timeoutMs} ms:\n${this.output()}`);
      await sleep(20);
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const killed = setTimeout(() => this.child.kill('SIGKILL'), 3000);
      await this.exited;
      clearTimeout(killed);
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
