import { Injectable } from '@nestjs/common';

/**
 * Set once the process has been asked to stop (SIGTERM): health answers 503 so that
 * load balancers stop sending, and responses say `Connection: close` so that kept-alive
 * connections move to another instance, while requests still being sent are served.
 */
@Injectable()
export class DrainService {
  private startedAt?: number;

  get draining(): boolean {
    return this.startedAt !== undefined;
  }

  begin(): void {
    this.startedAt ??= Date.now();
  }
}
