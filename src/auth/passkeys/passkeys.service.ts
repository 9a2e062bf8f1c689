import {
  BadRequestException,
  ConflictException,
  ForbiddenException,
  Inject,
  Injectable,
  NotFoundException,
  UnauthorizedException,
} from '@nestjs/common';
import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import type { Request } from 'express';
import { AuditService } from '../../audit/audit.service';
import { isUniqueViolation } from '../../common/postgres-errors';
import { lockUntilTransactionEnds } from '../../database/advisory-lock';
import { MailService } from '../../mail/mail.service';
import type { User } from '../../users/user.entity';
import { SignInCleanup } from '../../sessions/sign-in-cleanup';
import { UsersService } from '../../users/users.service';
import { AUTH_OPTIONS, type AuthOptions } from '../auth.options';
import { MAX_PASSKEYS_PER_USER, type Passkey } from './passkey.entity';
import { PasskeysRepository } from './passkeys.repository';
import type { WebAuthnPurpose } from './webauthn-challenge.entity';
import { WebAuthnChallengesRepository } from './webauthn-challenges.repository';

const CHALLENGE_TTL_MS = 5 * 60_000;
export const PASSKEY_REFUSED = 'This passkey could not be verified: try again';

/**
 * Passkeys (WebAuthn) with @simplewebauthn/server. The relying party is PUBLIC_URL:
 * its host name is the RP ID, the origin must match exactly. Every ceremony needs
 * user verification (the authenticator's PIN or biometric: a passkey is a whole
 * sign-in, not a second step) and a challenge this service handed out, spent on
 * first use and dead after 5 minutes. Credentials are discoverable (resident), so a
 * sign-in can start without an email; with an email first, the challenge is bound to
 * that account, and options never list credentials (which would tell who has one).
 * Each use must move the signature counter forward, unless the authenticator keeps
 * none (0 stays 0): a counter going back means a cloned key, and is refused.
 */
@Injectable()
export class PasskeysService {
  private readonly rpID: string;
  private readonly origin: string;

  constructor(
    @Inject(AUTH_OPTIONS) private readonly options: AuthOptions,
    private readonly passkeys: PasskeysRepository,
    private readonly challenges: WebAuthnChallengesRepository,
    private readonly users: UsersService,
    private readonly mail: MailService,
    private readonly audit: AuditService,
    cleanup: SignInCleanup,
  ) {
    cleanup.register('webauthnChallenges', (manager, batch) => challenges.deleteExpired(batch, manager));
    this.origin = options.publicUrl;
    this.rpID = new URL(options.publicUrl).hostname;
  }

  list(userId: string): Promise<Passkey[]> {
    return this.passkeys.findOfUser(userId);
  }

  /**
   * Creation options for the signed-in `user` (their existing passkeys excluded); 409 at
   * once when they have MAX_PASSKEYS_PER_USER, before the authenticator makes a key.
   */
  async registrationOptions(user: User): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const existing = await this.passkeys.findOfUser(user.id);
    if (existing.length >= MAX_PASSKEYS_PER_USER) throw new ConflictException(TOO_MANY_PASSKEYS);
    const options = await generateRegistrationOptions({
      rpName: this.options.serviceName,
      rpID: this.rpID,
      userName: user.email,
      userDisplayName: user.name ?? user.email,
      userID: Buffer.from(user.id.replaceAll('-', ''), 'hex'),
      attestationType: 'none',
      excludeCredentials: existing.map((passkey) => ({
        id: passkey.credentialId,
        transports: passkey.transports,
      })),
      authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
      timeout: CHALLENGE_TTL_MS,
    });
    await this.challenges.create(options.challenge, 'registration', user.id, CHALLENGE_TTL_MS);
    return options;
  }

  /**
   * Verifies a registration response and stores the passkey. 400 when it does not verify,
   * 409 when it is known or the user has MAX_PASSKEYS_PER_USER already.
   */
  async register(req: Request, user: User, response: unknown, name?: string): Promise<Passkey> {
    const registration = response as RegistrationResponseJSON;
    const challenge = await this.spendChallenge(registration, 'registration').catch(
      asRefusal(BadRequestException),
    );
    if (challenge.userId !== user.id) throw new BadRequestException(PASSKEY_REFUSED);
    const result = await verifyRegistrationResponse({
      response: registration,
      expectedChallenge: challenge.value,
      expectedOrigin: this.origin,
      expectedRPID: this.rpID,
      requireUserVerification: true,
      // The library throws on a malformed or mismatching response: that is a refusal, nothing more.
    }).catch(() => ({ verified: false as const }));
    if (!result.verified) throw new BadRequestException(PASSKEY_REFUSED);
    const { credential, credentialBackedUp } = result.registrationInfo;
    if (await this.passkeys.findByCredentialId(credential.id))
      throw new ConflictException(ALREADY_REGISTERED);
    let stored!: Passkey;
    // Two registrations of one credential racing past the check: the unique index decides.
    await this.users
      .changeSecondFactors(user.id, async (tx) => {
        // Counted and inserted under the user's lock: two registrations at once cannot both take the last place.
        await lockUntilTransactionEnds(tx.manager, REGISTRATION_LOCK_SPACE, user.id);
        if ((await this.passkeys.countOfUser(user.id, tx.manager)) >= MAX_PASSKEYS_PER_USER)
          throw new ConflictException(TOO_MANY_PASSKEYS);
        stored = await this.passkeys.create(
          {
            userId: user.id,
            credentialId: credential.id,
            publicKey: Buffer.from(credential.publicKey),
            counter: credential.counter,
            transports: credential.transports ?? [],
            name: name?.trim() || `Passkey ${new Date().toISOString().slice(0, 10)}`,
            backedUp: credentialBackedUp,
          },
          tx.manager,
        );
        await this.mail.queue(tx.manager, user.email, 'security-notice', {
          change: `A passkey (“${stored.name}”) was added to your account.`,
        });
        return { passkeyCount: await this.passkeys.countOfUser(user.id, tx.manager) };
      })
      .catch((error: unknown) => {
        throw isUniqueViolation(error) ? new ConflictException(ALREADY_REGISTERED) : error;
      });
    this.mail.wake();
    await this.audit.record(req, {
      type: 'passkey.registered',
      userId: user.id,
      details: { passkeyId: stored.id },
    });
    return stored;
  }

  /** 404 when the user has no passkey of that id. */
  async delete(req: Request, user: User, id: string): Promise<void> {
    let name = '';
    await this.users.changeSecondFactors(user.id, async (tx) => {
      name = (await this.passkeys.findOfUser(user.id)).find((passkey) => passkey.id === id)?.name ?? '';
      if (!(await this.passkeys.delete(user.id, id, tx.manager)))
        throw new NotFoundException('No such passkey');
      await this.mail.queue(tx.manager, user.email, 'security-notice', {
        change: `A passkey (“${name}”) was removed from your account.`,
      });
      return { passkeyCount: await this.passkeys.countOfUser(user.id, tx.manager) };
    });
    this.mail.wake();
    await this.audit.record(req, { type: 'passkey.deleted', userId: user.id, details: { passkeyId: id } });
  }

  /**
   * Request options for a sign-in, or for a signed-in user's re-authentication. With
   * `email` (or a signed-in user) the challenge is bound to that account; an unknown
   * email answers alike, and no assertion can use it.
   */
  async authenticationOptions(bound?: {
    email?: string;
    userId?: string;
  }): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const options = await generateAuthenticationOptions({
      rpID: this.rpID,
      userVerification: 'required',
      timeout: CHALLENGE_TTL_MS,
    });
    let userId: string | null = bound?.userId ?? null;
    if (!userId && bound?.email) userId = (await this.users.findByEmail(bound.email))?.id ?? NOBODY;
    await this.challenges.create(options.challenge, 'authentication', userId, CHALLENGE_TTL_MS);
    return options;
  }

  /** A passkey sign-in: the user, who needs no second step. 401 for anything that does not verify. */
  async authenticate(req: Request, response: unknown): Promise<User> {
    try {
      const { passkey } = await this.verifyAssertion(response as AuthenticationResponseJSON);
      const user = await this.users.findById(passkey.userId);
      if (!user || user.disabled) throw new PasskeyRefused('account unavailable');
      return user;
    } catch (error) {
      // Only a refusal is a 401: a failing database is the request's 503 or 500, never a failed sign-in.
      if (!(error instanceof PasskeyRefused)) throw error;
      await this.audit.record(req, { type: 'passkey.failed', details: { purpose: 'login' } });
      throw new UnauthorizedException(PASSKEY_REFUSED);
    }
  }

  /** A signed-in user's re-authentication with one of their passkeys; 403 otherwise. */
  async verifyForUser(req: Request, user: User, response: unknown): Promise<void> {
    try {
      await this.verifyAssertion(response as AuthenticationResponseJSON, user.id);
    } catch (error) {
      if (!(error instanceof PasskeyRefused)) throw error;
      await this.audit.record(req, {
        type: 'passkey.failed',
        userId: user.id,
        details: { purpose: 'reauth' },
      });
      throw new ForbiddenException(PASSKEY_REFUSED);
    }
  }

  /**
   * Checks an assertion (of `expectedUserId`'s passkeys, when given) and records the
   * use; PasskeyRefused for anything that does not verify, before any use is recorded.
   */
  private async verifyAssertion(
    response: AuthenticationResponseJSON,
    expectedUserId?: string,
  ): Promise<{ passkey: Passkey }> {
    const challenge = await this.spendChallenge(response, 'authentication');
    const passkey =
      typeof response?.id === 'string' ? await this.passkeys.findByCredentialId(response.id) : null;
    if (!passkey) throw new PasskeyRefused('unknown credential');
    if (challenge.userId !== null && challenge.userId !== passkey.userId)
      throw new PasskeyRefused('challenge bound to another account');
    if (expectedUserId !== undefined && passkey.userId !== expectedUserId)
      throw new PasskeyRefused('not a passkey of this user');
    const result = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge.value,
      expectedOrigin: this.origin,
      expectedRPID: this.rpID,
      requireUserVerification: true,
      credential: {
        id: passkey.credentialId,
        publicKey: new Uint8Array(passkey.publicKey),
        counter: Number(passkey.counter),
        transports: passkey.transports,
      },
      // The library throws on a malformed or mismatching response: a refusal.
    }).catch(() => ({ verified: false, authenticationInfo: undefined }));
    if (!result.verified || !result.authenticationInfo) throw new PasskeyRefused('not verified');
    if (!(await this.passkeys.recordUse(passkey.id, passkey.counter, result.authenticationInfo.newCounter)))
      throw new PasskeyRefused('signature counter did not move forward');
    return { passkey };
  }

  /** The challenge the response signed, if this service handed it out for `purpose` and it is unspent. */
  private async spendChallenge(
    response: RegistrationResponseJSON | AuthenticationResponseJSON,
    purpose: WebAuthnPurpose,
  ): Promise<{ value: string; userId: string | null }> {
    let value: unknown;
    try {
      value = (
        JSON.parse(Buffer.from(response.response.clientDataJSON, 'base64url').toString('utf8')) as {
          challenge?: unknown;
        }
      ).challenge;
    } catch {
      value = undefined;
    }
    const spent =
      typeof value === 'string' && value.length <= 128
        ? await this.challenges.consume(value, purpose)
        : undefined;
    if (!spent) throw new PasskeyRefused('unknown, spent or expired challenge');
    return { value: value as string, userId: spent.userId };
  }
}

/** A response that does not verify (as opposed to a failure of ours). */
class PasskeyRefused extends Error {}

/** A refusal as the HTTP answer of the ceremony at hand. */
function asRefusal(Refusal: new (message: string) => Error) {
  return (error: unknown): never => {
    throw error instanceof PasskeyRefused ? new Refusal(PASSKEY_REFUSED) : error;
  };
}

const ALREADY_REGISTERED = 'This passkey is registered already';
/** The space of the per-user locks registrations take in turn (see lockUntilTransactionEnds). */
const REGISTRATION_LOCK_SPACE = 7_231_002;
const TOO_MANY_PASSKEYS = `An account holds at most ${MAX_PASSKEYS_PER_USER} passkeys: remove one before adding another`;

/** A challenge bound to an email that has no account: no passkey belongs to this id. */
const NOBODY = '00000000-0000-0000-0000-000000000000';
