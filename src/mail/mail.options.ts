/** What the mail module reads: its part of the auth module's options, defaults filled in. */
export interface MailOptions {
  readonly mail: {
    /** Unset: every mail is written to the log (links included) instead of sent. */
    readonly smtpUrl?: string;
    readonly from: string;
    readonly maxAttempts: number;
    readonly retryBaseMs: number;
    /** How often each instance's worker looks for due mail (it is also woken at once by its own). */
    readonly pollIntervalMs: number;
  };
  readonly serviceName: string;
  readonly publicUrl: string;
}

export const MAIL_OPTIONS = Symbol('MailOptions');
