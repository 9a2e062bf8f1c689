/** The OpenAPI security schemes the routes name (the service's Swagger set-up declares them). */
export const BEARER_SCHEME = 'bearer';
export const SESSION_SCHEME = 'session';
export const APIKEY_SCHEME = 'apikey';
