/** The one answer to every failed password sign-in: unknown email, wrong password, disabled, raced. */
export const INVALID_CREDENTIALS = 'Invalid email or password';
