import { Worker } from 'node:worker_threads';

/** How much lower than the event loop bcrypt runs (Linux nice value; 0 is the default). */
const NICE = 10;

/**
 * Each worker is one thread that runs one bcrypt call at a time, synchronously,
 * at a lower CPU priority than the rest of the process. Linux keeps the nice value
 * per thread, so only this thread is lowered; elsewhere setpriority(0) would lower
 * the whole process, and the worker keeps the default priority.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
if (process.platform === 'linux') require('node:os').setPriority(0, workerData.nice);
const bcrypt = require(workerData.bcrypt);
parentPort.on('message', ({ op, data, arg }) => {
  try {
    parentPort.postMessage({ result: op === 'hash' ? bcrypt.hashSync(data, arg) : bcrypt.compareSync(data, arg) });
  } catch (error) {
    parentPort.postMessage({ error: error instanceof Error ? error.message : String(error) });
  }
});
`;

interface Task {
  op: 'hash' | 'compare';
  data: string;
  arg: string | number;
}

/**
 * bcrypt on its own threads, at a lower priority than the event loop, so that a
 * flood of logins uses the cores the rest of the service leaves idle instead of
 * taking turns with it: requests other than logins keep their latency while
 * bcrypt still gets every spare cycle. (bcrypt's own async calls would run on
 * libuv's shared thread pool, whose threads cannot be told apart to lower them.)
 *
 * Written here because the maintained pools (piscina) load their task from a
 * file, which TypeScript sources run by Jest do not have; the scheduling, at most
 * `size` calls at once, is the caller's (PasswordService, with p-limit), so a
 * free worker is always there.
 */
export class BcryptPool {
  private readonly idle: Worker[] = [];
  private readonly all = new Set<Worker>();

  constructor(private readonly size: number) {}

  hash(data: string, cost: number): Promise<string> {
    return this.run({ op: 'hash', data, arg: cost }) as Promise<string>;
  }

  compare(data: string, hash: string): Promise<boolean> {
    return this.run({ op: 'compare', data, arg: hash }) as Promise<boolean>;
  }

  async close(): Promise<void> {
    const workers = [...this.all];
    this.all.clear();
    this.idle.length = 0;
    await Promise.all(workers.map((worker) => worker.terminate()));
  }

  private run(task: Task): Promise<string | boolean> {
    const worker = this.idle.pop() ?? this.spawn();
    return new Promise((resolve, reject) => {
      const done = (settle: () => void) => {
        worker.off('message', onMessage);
        worker.off('error', onGone);
        worker.off('exit', onGone);
        if (this.all.has(worker)) this.idle.push(worker);
        settle();
      };
      const onMessage = (reply: { result?: string | boolean; error?: string }) =>
        done(() => (reply.error === undefined ? resolve(reply.result!) : reject(new Error(reply.error))));
      // The thread crashed, or was stopped by close() mid-call: forget it (the next
      // call starts a new one) and fail this call rather than leave it hanging.
      const onGone = (error?: unknown) => {
        this.all.delete(worker);
        done(() => reject(error instanceof Error ? error : new Error('bcrypt worker stopped')));
      };
      worker.on('message', onMessage);
      worker.on('error', onGone);
      worker.on('exit', onGone);
      worker.postMessage(task);
    });
  }

  private spawn(): Worker {
    if (this.all.size >= this.size) throw new Error(`BcryptPool: more than ${this.size} calls at once`);
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { bcrypt: require.resolve('bcrypt'), nice: NICE },
    });
    // An idle pool must not keep the process alive.
    worker.unref();
    this.all.add(worker);
    return worker;
  }
}
