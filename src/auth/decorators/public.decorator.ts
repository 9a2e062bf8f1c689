import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'auth:public';

/** The route needs no authentication (the global guard lets every request through). */
export const Public = () => SetMetadata(IS_PUBLIC, true);
