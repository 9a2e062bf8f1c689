/**
 * A start-up refused for a reason the operator must fix (a setting, not a bug): `main.ts`
 * prints its message as one line, without a stack trace.
 */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}
