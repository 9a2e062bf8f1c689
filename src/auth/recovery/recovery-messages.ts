/** The one answer for every link that cannot be used: nothing tells an attacker why. */
export const INVALID_LINK = 'This link is invalid or has expired; ask for a new one';

/** POST /password/forgot's answer, whether or not the account exists. */
export const RESET_REQUESTED = 'If an account uses this address, a link to reset its password is on its way';
