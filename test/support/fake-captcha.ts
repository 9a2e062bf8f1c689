import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** What the fake answers: a verdict (`ok`), HTTP 500 (`error`), or nothing at all (`hang`). */
export type FakeCaptchaMode = 'ok' | 'error' | 'hang';

/** One siteverify request as the fake received it. */
export interface SiteverifyRequest {
  method: string;
  contentType: string;
  /** The form fields (`secret`, `response`, `remoteip`, ...). */
  fields: Record<string, string>;
}

/**
 * A fake captcha siteverify API (Turnstile, hCaptcha and reCAPTCHA share its shape)
 * on 127.0.0.1, on a free port: it records every request's form fields and answers
 * `{ success: true }` only for `goodAnswer`. `mode` switches it to answer 500 or to
 * never answer, as a provider that is down or hangs. Never the real providers.
 */
export class FakeCaptcha {
  readonly requests: SiteverifyRequest[] = [];
  mode: FakeCaptchaMode = 'ok';
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly goodAnswer: string,
  ) {}

  static async start(goodAnswer = 'the-right-answer'): Promise<FakeCaptcha> {
    const server = createServer();
    const fake = new FakeCaptcha(server, goodAnswer);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => fake.handle(req, res));
    server.on('connection', (socket: Socket) => {
      fake.sockets.add(socket);
      socket.on('close', () => fake.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return fake;
  }

  /** `CAPTCHA_VERIFY_URL` for the service under test. */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/siteverify`;
  }

  /** Forgets what was seen and answers again. */
  reset(): void {
    this.requests.length = 0;
    this.mode = 'ok';
  }

  /** Stops, cutting off any request left hanging. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      this.requests.push({
        method: req.method ?? '',
        contentType: req.headers['content-type'] ?? '',
        fields: Object.fromEntries(new URLSearchParams(body)),
      });
      if (this.mode === 'hang') return; // never answers; close() cuts the socket
      if (this.mode === 'error') {
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end('internal error');
        return;
      }
      const success = new URLSearchParams(body).get('response') === this.goodAnswer;
      res
        .writeHead(200, { 'Content-Type': 'application/json' })
        .end(
          JSON.stringify(
            success ? { success: true } : { success: false, 'error-codes': ['invalid-input-response'] },
          ),
        );
    });
  }
}
