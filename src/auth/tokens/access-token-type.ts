/** The `typ` of our access tokens (RFC 9068 section 2.1). */
export const ACCESS_TOKEN_TYPE = 'at+jwt';
