import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** Keys published in the JWKS at most: an on-demand rotation beyond it is refused (409) until the oldest retired key expires. */
export const MAX_PUBLISHED_SIGNING_KEYS = 10;

/** The longest `kid` the table holds (generated ones are 22 characters). */
export const MAX_KID_LENGTH = 64;

/**
 * An ES256 key that signs access tokens. The public half is published at
 * /.well-known/jwks.json; the private half is stored sealed (SecretBox, AES-256-GCM
 * under a key derived from JWT_SECRET). The newest unretired key signs; a retired one
 * keeps verifying (and stays published) until the last token it signed has expired.
 * Rows are kept after that (they are small): the oldest says when ES256 began.
 */
@Entity('signing_keys')
export class SigningKey {
  @PrimaryColumn({ type: 'varchar', length: MAX_KID_LENGTH })
  kid!: string;

  @Column({ type: 'varchar', length: 10 })
  algorithm!: 'ES256';

  /** The public key as a JWK (kty, crv, x, y). */
  @Column({ name: 'public_jwk', type: 'jsonb' })
  publicJwk!: Record<string, string>;

  @Column({ name: 'private_key_sealed', type: 'text' })
  privateKeySealed!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  /**
   * On the first key only, when the deployment had live token logins then (an upgrade
   * from HS256): until when HS256 access tokens from before may still be alive. Null on
   * a fresh install, which accepts no HS256 token at all.
   */
  @Column({ name: 'legacy_hs256_until', type: 'timestamptz', nullable: true })
  legacyHs256Until!: Date | null;

  /** When a newer key took over signing; null for the current key. */
  @Column({ name: 'retired_at', type: 'timestamptz', nullable: true })
  retiredAt!: Date | null;
}
