import { HttpException, HttpStatus } from '@nestjs/common';

/** 429 with the seconds to wait (the exception filter sets Retry-After). */
export class TooManyMailsException extends HttpException {
  constructor(readonly retryAfterSeconds: number) {
    super('A link was mailed moments ago; check your mail, or try again later', HttpStatus.TOO_MANY_REQUESTS);
  }
}
