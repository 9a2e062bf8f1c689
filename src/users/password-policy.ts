import { Inject, Injectable } from '@nestjs/common';
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import * as common from '@zxcvbn-ts/language-common';
import * as english from '@zxcvbn-ts/language-en';
import { USERS_OPTIONS, type UsersOptions } from './users.options';
import { isBreachedPassword } from './breached-passwords';
import { normalisePassword } from './password.service';

/** Beyond this, a password is long enough; checking more only costs time. */
const CHECKED_PREFIX = 128;

/**
 * NIST SP 800-63B / ASVS 6.2: a minimum length, any characters, no composition
 * rules, and a refusal, with a reason, of passwords that are common, breached or
 * trivially guessable, checked offline: an exact match (NFKC, any case) in the
 * 100,000 most common breached passwords, then zxcvbn-ts and its dictionaries of
 * leaked passwords (score 0: fewer than ~1,000 guesses), which also catches
 * near-misses of the list. The account's own email and name count as guessable too.
 */
@Injectable()
export class PasswordPolicy {
  private readonly zxcvbn = new ZxcvbnFactory({
    dictionary: { ...common.dictionary, ...english.dictionary },
    graphs: common.adjacencyGraphs,
    translations: english.translations,
  });

  constructor(@Inject(USERS_OPTIONS) private readonly config: UsersOptions) {}

  /** The shortest accepted password, in characters. */
  get minLength(): number {
    return this.config.passwordMinLength;
  }

  /** Why `password` is not acceptable, one line per reason; empty when it is. */
  problems(password: string, field: string, context: (string | null | undefined)[] = []): string[] {
    const normalised = normalisePassword(password);
    const length = [...normalised].length;
    if (length < this.config.passwordMinLength)
      return [`${field} must be at least ${this.config.passwordMinLength} characters long`];
    // zxcvbn scores some listed passwords above 0 (`password1234`, `qwerty123456`).
    if (isBreachedPassword(normalised))
      return [`${field} is one of the most common breached passwords; choose another`];
    const inputs = context.filter((value): value is string => Boolean(value));
    const result = this.zxcvbn.check(normalised.slice(0, CHECKED_PREFIX), inputs);
    if (result.score > 0) return [];
    const reason = result.feedback.warning ?? 'It is too easy to guess.';
    return [`${field} is too common or too easy to guess: ${reason.replace(/\.$/, '')}`];
  }
}
